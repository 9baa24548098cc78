#!/usr/bin/env bash
# The AWS CLI example: a room, a chat token, the list of rooms, then it deletes the room.
#
#   export AWS_ACCESS_KEY_ID=ivschatd-dev AWS_SECRET_ACCESS_KEY=ivschatd-dev-secret AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
#   bash examples/cli/room.sh
#
# Works with Debian 12's awscli (2.9.19, apt-get install awscli), which needs --endpoint-url
# on every command. IVSCHAT_ENDPOINT names the server (default http://127.0.0.1:8080).
set -euo pipefail
ENDPOINT="${IVSCHAT_ENDPOINT:-http://127.0.0.1:8080}"

ROOM_ARN=$(aws ivschat create-room --endpoint-url "$ENDPOINT" --name demo --query arn --output text)
echo "room $ROOM_ARN"
EXPIRES=$(aws ivschat create-chat-token --endpoint-url "$ENDPOINT" --room-identifier "$ROOM_ARN" \
    --user-id alice --capabilities SEND_MESSAGE DELETE_MESSAGE --query tokenExpirationTime --output text)
echo "token for alice, usable until $EXPIRES"
aws ivschat list-rooms --endpoint-url "$ENDPOINT" --name demo --query 'rooms[].arn' --output text
aws ivschat delete-room --endpoint-url "$ENDPOINT" --identifier "$ROOM_ARN"
echo "deleted $ROOM_ARN"
