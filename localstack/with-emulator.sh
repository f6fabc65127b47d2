#!/usr/bin/env bash
# Runs a command with an AWS-compatible endpoint on $AWS_ENDPOINT_URL
# (default http://127.0.0.1:4566). If something already answers there
# (LocalStack from `make localstack-up`, or a moto_server you started), it
# is used. Otherwise moto_server is started for the command and stopped
# after it.
#
# The moto_server it starts (localstack/moto_server.py) inherits the
# environment, so these reach it:
#   LEADRELAY_MOTO_HOLD_MS  contention mode: each TransactWriteItems holds
#                           its items this many ms, and colliding writes are
#                           refused as DynamoDB refuses them (default 0: off;
#                           `make test` sets 15, `make run` leaves it off)
#   LEADRELAY_MOTO_SLOW_MS  log DynamoDB requests slower than this many ms
# They have no effect on an emulator that already answers (started earlier,
# or LocalStack). A moto_server.py started earlier can still be switched at
# runtime: POST /_leadrelay/contention {"hold_ms": 15} on its port (and
# POST /_leadrelay/faults for SQS send faults; see moto_server.py).
set -euo pipefail
endpoint="${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}"
hostport="${endpoint#*://}"; hostport="${hostport%%/*}"
host="${hostport%:*}"; port="${hostport##*:}"

answers() { curl -s -o /dev/null --max-time 2 "$endpoint" 2>/dev/null; }

pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! answers; then
  if ! command -v moto_server >/dev/null 2>&1 && ! python3 -c 'import moto' 2>/dev/null; then
    echo "with-emulator: nothing answers at $endpoint and moto_server is not installed;" >&2
    echo "  installing it with pip (moto[server]) — or start LocalStack with 'make localstack-up'" >&2
    python3 -m pip install --quiet 'moto[server]' >&2 || { echo "with-emulator: could not install moto" >&2; exit 1; }
  fi
  log="${TMPDIR:-/tmp}/leadrelay-moto-$port.log"
  # moto's own server, with DynamoDB requests serialised (see moto_server.py).
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  if python3 -c 'import moto.moto_server.werkzeug_app' 2>/dev/null; then
    python3 "$here/moto_server.py" -H "$host" -p "$port" >"$log" 2>&1 &
  else
    moto_server -H "$host" -p "$port" >"$log" 2>&1 &
  fi
  pid=$!
  for _ in $(seq 1 100); do
    answers && break
    if ! kill -0 "$pid" 2>/dev/null; then echo "with-emulator: moto_server exited; see $log" >&2; exit 1; fi
    sleep 0.2
  done
  answers || { echo "with-emulator: moto_server did not answer at $endpoint; see $log" >&2; exit 1; }
  echo "with-emulator: started moto_server on $endpoint (log: $log)" >&2
fi
"$@"
