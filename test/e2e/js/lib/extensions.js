// Calls of ivschatd's extension operations (docs/extensions.md), signed with
// @smithy/signature-v4 exactly as @aws-sdk/client-ivschat signs the control plane.
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

/**
 * POST /ivschatd/<operation> with a JSON body; resolves with the decoded answer,
 * rejects with an Error whose `code` is x-amzn-ErrorType and `status` the HTTP status.
 */
export async function callExtension(endpoint, credentials, operation, input, region = 'us-east-1') {
  const url = new URL(`/ivschatd/${operation}`, endpoint);
  const body = JSON.stringify(input);
  const signer = new SignatureV4({ service: 'ivschat', region, credentials, sha256: Sha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    headers: { host: url.host, 'content-type': 'application/json' },
    body,
  });
  const response = await fetch(url, { method: 'POST', headers: signed.headers, body });
  const answer = await response.json();
  if (!response.ok) {
    const err = new Error(`${operation}: ${answer.message}`);
    err.code = response.headers.get('x-amzn-ErrorType');
    err.status = response.status;
    throw err;
  }
  return answer;
}
