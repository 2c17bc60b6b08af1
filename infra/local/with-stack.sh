#!/usr/bin/env bash
# Runs a command against a fresh local AWS stack (moto server on loopback).
#
#   infra/local/with-stack.sh [--keep] [--dynalite] -- CMD ARGS...
#
# Starts `moto_server` on a free 127.0.0.1 port, points the AWS SDKs and CLIs
# at it (AWS_ENDPOINT_URL, region us-east-1, dummy credentials), runs CMD from
# the repo root and exits with CMD's exit code. moto is stopped (by its PID)
# when the script exits; its log is target/local-stack/moto-PORT.log and is
# removed after a successful run.
#
# --keep   leave moto running after CMD (prints how to reach and stop it) and
#          keep its log; useful to poke at the state CMD left behind.
# --dynalite  serve DynamoDB from dynalite (npm, in-memory; pinned in
#          infra/local/dynalite, installed on first use) instead of moto, via
#          AWS_ENDPOINT_URL_DYNAMODB. For load runs only (the month-end burst):
#          serialized moto takes ~6 ms a conditional write, dynalite ~1 ms,
#          with the same per-item atomic conditions. Needs node and npm.
#
# This script creates no resources: tests provision their own through the
# tests/localstack crate, the demo through `localstack provision`.
set -euo pipefail

usage() {
    echo "usage: $0 [--keep] [--dynalite] -- CMD [ARGS...]" >&2
    exit 2
}

keep=0
dynalite=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --keep) keep=1; shift ;;
        --dynalite) dynalite=1; shift ;;
        --) shift; break ;;
        -h|--help) usage ;;
        *) echo "with-stack: unknown option $1" >&2; usage ;;
    esac
done
[[ $# -gt 0 ]] || usage

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source-path=SCRIPTDIR source=tools.sh
source "$root/infra/local/tools.sh"

state_dir="$root/target/local-stack"
mkdir -p "$state_dir"

moto_pid=""
moto_log=""
dynalite_pid=""
cmd_rc=1

# shellcheck disable=SC2317  # only called from the EXIT trap (shellcheck 0.9 cannot see that)
stop_moto() {
    if [[ -n "$dynalite_pid" ]]; then
        kill "$dynalite_pid" 2>/dev/null || true
        wait "$dynalite_pid" 2>/dev/null || true
    fi
    if [[ -z "$moto_pid" ]]; then
        return 0
    fi
    if [[ "$keep" == 1 ]]; then
        echo "with-stack: moto left running: AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL (pid $moto_pid, log $moto_log); stop it with: kill $moto_pid" >&2
        return 0
    fi
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
    if [[ "$cmd_rc" == 0 && -n "$moto_log" ]]; then
        rm -f "$moto_log"
    fi
}
trap stop_moto EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

have_curl=0
command -v curl >/dev/null 2>&1 && have_curl=1
probe() {
    if [[ "$have_curl" == 1 ]]; then
        curl -fs -o /dev/null --max-time 1 "$1"
    else
        python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1).read()' "$1" >/dev/null 2>&1
    fi
}

# Another process can take the port between picking and binding it: retry.
started=0
for _attempt in 1 2 3; do
    port="$(free_port)"
    moto_log="$state_dir/moto-$port.log"
    # moto with one request processed at a time: per-item atomic
    # conditional writes, as in DynamoDB (see moto_serialized.py).
    python "$root/infra/local/moto_serialized.py" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
    moto_pid=$!
    deadline=$((SECONDS + 10))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$moto_pid" 2>/dev/null; then
            break
        fi
        if probe "http://127.0.0.1:$port/moto-api/"; then
            started=1
            break
        fi
        sleep 0.05
    done
    if [[ "$started" == 1 ]]; then
        break
    fi
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
    moto_pid=""
    echo "with-stack: moto did not answer on port $port; log:" >&2
    tail -n 5 "$moto_log" >&2 || true
done
if [[ "$started" != 1 ]]; then
    echo "with-stack: could not start moto_server" >&2
    exit 1
fi

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE
export LOCAL_STACK_MOTO_PID="$moto_pid"
echo "with-stack: moto on $AWS_ENDPOINT_URL (pid $moto_pid)" >&2

if [[ "$dynalite" == 1 ]]; then
    dynalite_dir="$root/infra/local/dynalite"
    dynalite_stamp="$dynalite_dir/node_modules/.package-lock.sha256"
    want="$(sha256sum "$dynalite_dir/package-lock.json" | cut -d' ' -f1)"
    if [[ ! -f "$dynalite_stamp" || "$(cat "$dynalite_stamp")" != "$want" ]]; then
        # No install scripts: dynalite's in-memory store needs none (the
        # LevelDB binding it could build is for --path, unused here).
        if ! npm ci --prefix "$dynalite_dir" --ignore-scripts --no-audit --no-fund >"$state_dir/dynalite-install.log" 2>&1; then
            echo "with-stack: npm ci in infra/local/dynalite failed; last lines of $state_dir/dynalite-install.log:" >&2
            tail -n 20 "$state_dir/dynalite-install.log" >&2
            exit 1
        fi
        echo "$want" >"$dynalite_stamp"
    fi
    dynalite_port="$(free_port)"
    node "$dynalite_dir/node_modules/dynalite/cli.js" --host 127.0.0.1 --port "$dynalite_port" \
        --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$state_dir/dynalite-$dynalite_port.log" 2>&1 &
    dynalite_pid=$!
    deadline=$((SECONDS + 10))
    until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$dynalite_port" 2>/dev/null; do
        if ! kill -0 "$dynalite_pid" 2>/dev/null || ((SECONDS >= deadline)); then
            echo "with-stack: dynalite did not start; log:" >&2
            tail -n 5 "$state_dir/dynalite-$dynalite_port.log" >&2 || true
            exit 1
        fi
        sleep 0.05
    done
    export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$dynalite_port"
    echo "with-stack: DynamoDB on dynalite at $AWS_ENDPOINT_URL_DYNAMODB (pid $dynalite_pid)" >&2
fi

set +e
"$@"
cmd_rc=$?
set -e
exit "$cmd_rc"
