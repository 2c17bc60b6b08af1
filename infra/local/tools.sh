#!/usr/bin/env bash
# Makes sure the project's tools venv (.venv at the repo root) exists and holds
# the pinned local-stack tools (moto server, cfn-lint, SAM CLI). Idempotent:
# pip runs only when a requirements file (or constraints.txt, which pins every
# transitive package) changed: one hash stamp per file lives in .venv.
#
#   infra/local/tools.sh              # run it: ensure the venv, print one line
#   source infra/local/tools.sh       # from another script: ensure it and put
#                                     # .venv/bin first on PATH
#   INSTALL_BUILD_TOOLS=1 infra/local/tools.sh   # also cargo-lambda (~400 MB zig)
#
# Needs only python3 with the venv module (Debian: apt-get install python3-venv)
# and a reachable PyPI (or a local wheel dir configured for pip).
set -euo pipefail

tools_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools_venv="$tools_root/.venv"

tools_ensure() {
    local here="$tools_root/infra/local"
    local reqs=("$here/requirements.txt")
    if [[ "${INSTALL_BUILD_TOOLS:-0}" == 1 ]]; then
        reqs+=("$here/requirements-build.txt")
    fi
    local created="" did=()

    # Serialise concurrent runs (two shells starting with-stack.sh at once).
    mkdir -p "$tools_root/target/local-stack"
    local lock_fd=""
    if command -v flock >/dev/null 2>&1; then
        exec {lock_fd}>"$tools_root/target/local-stack/tools.lock"
        flock "$lock_fd"
    fi

    if [[ ! -x "$tools_venv/bin/python" ]]; then
        if ! python3 -m venv "$tools_venv" >/dev/null 2>&1; then
            rm -rf "$tools_venv"
            echo "tools: 'python3 -m venv' failed; install the venv module (Debian: apt-get install python3-venv)" >&2
            return 1
        fi
        created="created .venv; "
    fi

    # One stamp per requirements file: pip runs only for a file whose content
    # (or the venv's Python) changed since its last successful install.
    local constraints="$here/constraints.txt" constraint_args=(-c "$here/constraints.txt")
    if [[ "${LOCAL_STACK_NO_CONSTRAINTS:-0}" == 1 ]]; then
        constraints=/dev/null
        constraint_args=()
    fi
    local req stamp want log start
    for req in "${reqs[@]}"; do
        stamp="$tools_venv/.stamp-$(basename "$req" .txt).sha256"
        want="$({ cat "$req" "$constraints"; "$tools_venv/bin/python" -VV; } | "$tools_venv/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
        if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
            continue
        fi
        log="$tools_root/target/local-stack/pip-install.log"
        start=$SECONDS
        if ! "$tools_venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req" "${constraint_args[@]}" >"$log" 2>&1; then
            echo "tools: pip install -r ${req#"$tools_root"/} failed; last lines of $log:" >&2
            tail -n 20 "$log" >&2
            return 1
        fi
        echo "$want" >"$stamp"
        did+=("installed $(basename "$req") in $((SECONDS - start)) s")
    done

    if [[ ${#did[@]} -eq 0 ]]; then
        echo "tools: ${created}.venv up to date ($(basename -a "${reqs[@]}" | paste -sd, -))" >&2
    else
        local joined
        joined="$(printf '%s; ' "${did[@]}")"
        echo "tools: ${created}${joined%; }" >&2
    fi

    if [[ -n "$lock_fd" ]]; then
        exec {lock_fd}>&-
    fi
    return 0
}

tools_ensure
export PATH="$tools_venv/bin:$PATH"
