#!/usr/bin/env bash
# ivschatd in the background, as a CI job runs it: build it, start it on a fresh data
# directory, wait until it accepts connections, run a command against it, stop it.
#
#   bash examples/cli/ci.sh [COMMAND...]     (from the repository root; default: bash examples/cli/room.sh)
#
# A built binary, not `go run`: kill $! would stop `go run` and leave the server it started.
# IVSCHATD_ADDR is the listen address (default 127.0.0.1:8080).
set -euo pipefail
ADDR="${IVSCHATD_ADDR:-127.0.0.1:8080}"
DATA="$(mktemp -d)"

go build -o ivschatd ./cmd/ivschatd
./ivschatd --addr "$ADDR" --data-dir "$DATA" &
SERVER=$!
# SIGTERM: the server finishes its connections and exits; then the data goes.
trap 'kill $SERVER; wait $SERVER; rm -rf "$DATA"' EXIT
until (exec 3<>"/dev/tcp/${ADDR%:*}/${ADDR##*:}") 2>/dev/null; do sleep 0.2; done

export AWS_ACCESS_KEY_ID=ivschatd-dev AWS_SECRET_ACCESS_KEY=ivschatd-dev-secret AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export IVSCHAT_ENDPOINT="http://$ADDR"
if [ "$#" -gt 0 ]; then "$@"; else bash examples/cli/room.sh; fi
