"""Calls ivschatd's extension operations signed with botocore's SigV4Auth.

Usage: python3 extensions.py ENDPOINT ROOM_ARN USER_ID
Bans the user for an hour, lists the room's bans, unbans the user, and prints
each answer as one JSON line. The keys come from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY. Run by test/e2e/extensions_examples_test.go.
"""
import json
import os
import sys
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def call_extension(endpoint, operation, body, region="us-east-1"):
    """POST /ivschatd/<operation>, signed like the IVS Chat control plane."""
    url = endpoint + "/ivschatd/" + operation
    data = json.dumps(body).encode()
    request = AWSRequest(method="POST", url=url, data=data,
                         headers={"Content-Type": "application/json"})
    credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"],
                              os.environ["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(credentials, "ivschat", region).add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        # Errors carry the code in x-amzn-ErrorType and a message in the body.
        return err.code, {"code": err.headers["x-amzn-ErrorType"], **json.load(err)}


def main():
    endpoint, room, user = sys.argv[1:4]
    for operation, body in [
        ("BanUser", {"roomIdentifier": room, "userId": user,
                     "durationSeconds": 3600, "reason": "spam"}),
        ("ListBans", {"roomIdentifier": room}),
        ("UnbanUser", {"roomIdentifier": room, "userId": user}),
        ("BanUser", {"roomIdentifier": room, "userId": user, "durationSeconds": 0}),
    ]:
        status, answer = call_extension(endpoint, operation, body)
        print(json.dumps({"operation": operation, "status": status, "answer": answer}))


if __name__ == "__main__":
    main()
