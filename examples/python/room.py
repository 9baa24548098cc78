#!/usr/bin/python3
"""The boto3 example: a logging configuration, a room that logs to it, and a chat token for
one user, then it deletes what it made.

    export AWS_ACCESS_KEY_ID=ivschatd-dev AWS_SECRET_ACCESS_KEY=ivschatd-dev-secret AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
    /usr/bin/python3 examples/python/room.py

Runs with Debian 12's python3 and python3-boto3 (apt-get install python3-boto3).
IVSCHAT_ENDPOINT names the server (default http://127.0.0.1:8080).
"""
import os

import boto3

endpoint = os.environ.get("IVSCHAT_ENDPOINT", "http://127.0.0.1:8080")
# Credentials and region come from the environment (boto3 reads AWS_DEFAULT_REGION).
ivschat = boto3.client("ivschat", endpoint_url=endpoint)

logging = ivschat.create_logging_configuration(
    name="demo-logs",
    destinationConfiguration={"s3": {"bucketName": "demo-chat-logs"}},
)
print("logging configuration", logging["arn"], logging["state"])

room = ivschat.create_room(name="demo", loggingConfigurationIdentifiers=[logging["arn"]])
print("room", room["arn"])

token = ivschat.create_chat_token(
    roomIdentifier=room["arn"],
    userId="alice",
    capabilities=["SEND_MESSAGE"],
    attributes={"displayName": "Alice"},
)
print("token for alice, usable until", token["tokenExpirationTime"].isoformat())

ivschat.delete_room(identifier=room["arn"])
ivschat.delete_logging_configuration(identifier=logging["arn"])
print("deleted the room and the logging configuration")
