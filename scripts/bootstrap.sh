# Sourced by ./run-app and ./run-tests: a virtualenv in .venv with exactly the locked dependencies.
# Needs only Python 3.11 and access to the package index; uv (pinned) is installed into .venv-tools.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION="0.13.9"

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3 python; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 && \
           "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
            # the interpreter itself, not a pyenv/asdf shim: uv compares this path with the venv's
            # interpreter and would replace the whole .venv on every start if given the shim
            "$candidate" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    echo "error: Python 3.11 is needed (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

PY="$(find_python)"
TOOLS="$ROOT/.venv-tools"
if [ ! -x "$TOOLS/bin/uv" ] || [ "$("$TOOLS/bin/uv" --version 2>/dev/null | awk '{print $2}')" != "$UV_VERSION" ]; then
    echo "setting up uv $UV_VERSION…" >&2
    "$PY" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
export UV_PYTHON_DOWNLOADS=never
if [ "${BOOTSTRAP_TOOLS_ONLY:-}" = 1 ]; then  # packaging/build-bundle.sh: only $PY and uv, no .venv
    return 0
fi
export UV_PROJECT_ENVIRONMENT="$ROOT/.venv"
# --frozen: install exactly uv.lock; the first run downloads ~3 GB (PyTorch), later runs take a second.
# Bytecode is compiled once per lock/pyproject change (--compile-bytecode, ~1-2 min for the whole venv), so
# no later start compiles the dependencies again; an unchanged venv skips it and stays a one-second check.
stamp="$ROOT/.venv/.bytecode-stamp"
want="$(cat "$ROOT/uv.lock" "$ROOT/pyproject.toml" | cksum)"
# (explicit status checks: errexit does not apply when this file is sourced inside an `&&` list)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$TOOLS/bin/uv" sync --frozen --compile-bytecode --python "$PY" --project "$ROOT" --quiet || return 1
    echo "$want" > "$stamp"
else
    "$TOOLS/bin/uv" sync --frozen --python "$PY" --project "$ROOT" --quiet || return 1
fi
