#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle: packaging/out/dist/desktop-search/ (Linux, macOS; Windows uses
# packaging/windows/build.ps1). Used by packaging/linux/build.sh and packaging/macos/build-dmg.sh.
#
# The build venv (packaging/build-venv, ignored) holds exactly the locked runtime dependencies (uv.lock,
# no dev group) plus PyInstaller, which is a build tool and deliberately not in pyproject.toml/uv.lock.
#   TORCH_INDEX=https://download.pytorch.org/whl/cpu   install torch from there instead of PyPI (CPU-only
#                                                       wheels on Linux; drops triton and the nvidia-* wheels)
#   BUILD_VENV=/path                                    use (or create) that venv instead
#   PYTHON=/path/to/python3.11                          the interpreter (needs its shared libpython)
#   VENV_ONLY=1                                         only create the build venv
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
OUT="$ROOT/packaging/out"
VENV="${BUILD_VENV:-$ROOT/packaging/build-venv}"
PYINSTALLER_VERSION="6.22.3"

BOOTSTRAP_TOOLS_ONLY=1 source "$ROOT/scripts/bootstrap.sh"  # finds Python 3.11 ($PY) and the pinned uv ($TOOLS/bin/uv)
UV="$TOOLS/bin/uv"

if [ ! -x "$VENV/bin/pyinstaller" ] || [ "${REBUILD_VENV:-}" = 1 ]; then
    echo "build venv: $VENV" >&2
    rm -rf "$VENV"
    "$UV" venv -q --python "$PY" "$VENV"
    req="$(mktemp)"
    "$UV" export --frozen --no-dev --no-emit-project --no-hashes -q --project "$ROOT" > "$req"
    if [ -n "${TORCH_INDEX:-}" ]; then
        # CPU-only torch: nothing CUDA-specific may reach the bundle
        grep -v -E '^(torch|triton|nvidia-|cuda-)' "$req" > "$req.cpu"
        # --no-deps: torch's own dependencies (sympy, networkx, jinja2, ...) are in the export and come from
        # PyPI with the rest; only torch itself from the CPU index (2.11.0+cpu satisfies ==2.11.0)
        "$UV" pip install -q --no-deps --python "$VENV/bin/python" --index-url "$TORCH_INDEX" \
            "$(grep -E '^torch==' "$req" | cut -d' ' -f1)"
        mv "$req.cpu" "$req"
    fi
    "$UV" pip install -q --python "$VENV/bin/python" -r "$req" "pyinstaller==$PYINSTALLER_VERSION"
    "$UV" pip install -q --python "$VENV/bin/python" --no-deps -e "$ROOT"
    rm -f "$req"
fi

[ "${VENV_ONLY:-}" = 1 ] && exit 0
mkdir -p "$OUT"
"$VENV/bin/pyinstaller" --noconfirm --log-level "${PYI_LOG_LEVEL:-WARN}" \
    --distpath "$OUT/dist" --workpath "$OUT/work" "$ROOT/packaging/desktop-search.spec"
if [ -z "${DESKTOP_SEARCH_KEEP_CUDA:-}" ] && [ -n "${TORCH_INDEX:-}" ]; then
    # a CPU-only bundle must carry nothing CUDA-specific
    cuda_libs="$(find "$OUT/dist" -type f \( -name '*.so*' -o -name '*.dll' -o -name '*.dylib' \) \
        | grep -iE 'cuda|cudnn|cublas|cufft|curand|cusparse|cusolver|nccl|nvrtc|nvjitlink|nvshmem|triton' || true)"
    if [ -n "$cuda_libs" ]; then
        echo "error: CUDA libraries in a CPU-only bundle:" >&2
        echo "$cuda_libs" | head >&2
        exit 1
    fi
fi
du -sh "$OUT/dist/"* >&2
