// Checks extension calls against docs/extensions.openapi.json, as the Go e2e tests do
// (test/e2e/extensions_openapi_test.go): the same subset of JSON Schema — $ref, type,
// properties, required, additionalProperties: false, enum, minimum/maximum,
// minLength/maxLength (in code points), pattern, items, date-time.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from './server.js';
import { callExtension } from './extensions.js';

const doc = JSON.parse(readFileSync(path.join(REPO_ROOT, 'docs', 'extensions.openapi.json'), 'utf8'));

function resolve(s) {
  while (s && s.$ref) s = doc.components.schemas[s.$ref.replace('#/components/schemas/', '')];
  return s;
}

/** The first way v breaks schema s, or '' if it conforms. */
export function check(s, v, at = '') {
  s = resolve(s);
  if (!s) return `${at}: no schema`;
  if (s.enum && !s.enum.includes(v)) return `${at}: ${JSON.stringify(v)} is not one of ${JSON.stringify(s.enum)}`;
  switch (s.type) {
    case 'object': {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return `${at}: not an object`;
      for (const r of s.required || []) if (!(r in v)) return `${at}: missing ${r}`;
      for (const [k, val] of Object.entries(v)) {
        const p = s.properties?.[k];
        if (!p) {
          if (s.additionalProperties === false) return `${at}: unexpected member ${k}`;
          continue;
        }
        const msg = check(p, val, `${at}.${k}`);
        if (msg) return msg;
      }
      return '';
    }
    case 'array': {
      if (!Array.isArray(v)) return `${at}: not an array`;
      for (const [i, it] of v.entries()) {
        const msg = check(s.items, it, `${at}[${i}]`);
        if (msg) return msg;
      }
      return '';
    }
    case 'string': {
      if (typeof v !== 'string') return `${at}: not a string`;
      const n = [...v].length;
      if ((s.minLength !== undefined && n < s.minLength) || (s.maxLength !== undefined && n > s.maxLength)) return `${at}: length ${n} out of range`;
      if (s.pattern && !new RegExp(s.pattern).test(v)) return `${at}: ${JSON.stringify(v)} does not match ${s.pattern}`;
      if (s.format === 'date-time' && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v)) return `${at}: ${JSON.stringify(v)} is not a date-time`;
      return '';
    }
    case 'integer':
    case 'number':
      if (typeof v !== 'number' || (s.type === 'integer' && !Number.isInteger(v))) return `${at}: ${v} is not an ${s.type}`;
      if ((s.minimum !== undefined && v < s.minimum) || (s.maximum !== undefined && v > s.maximum)) return `${at}: ${v} out of range`;
      return '';
    case 'boolean':
      return typeof v === 'boolean' ? '' : `${at}: not a boolean`;
    default:
      return '';
  }
}

/**
 * callExtension, checked against the description: a request it refuses must get a
 * ValidationException, an answer must be one it describes for its status.
 */
export async function checkedExtension(endpoint, credentials, operation, input) {
  const op = doc.paths[`/ivschatd/${operation}`]?.post;
  if (!op) throw new Error(`the OpenAPI description has no POST /ivschatd/${operation}`);
  const refused = check(op.requestBody.content['application/json'].schema, input, 'request');
  let answer;
  try {
    answer = await callExtension(endpoint, credentials, operation, input);
  } catch (err) {
    if (!err.status) throw err;
    if (!op.responses[String(err.status)]) throw new Error(`${operation}: status ${err.status} is not described (${err.message})`);
    if (refused && (err.status !== 400 || err.code !== 'ValidationException')) {
      throw new Error(`${operation}: the description refuses the request (${refused}), the server answered ${err.status} ${err.code}`);
    }
    throw err;
  }
  if (refused) throw new Error(`${operation}: the description refuses the request (${refused}), the server answered 200`);
  const problem = check(op.responses['200'].content['application/json'].schema, answer, 'response');
  if (problem) throw new Error(`${operation}: the answer breaks the description: ${problem}`);
  return answer;
}
