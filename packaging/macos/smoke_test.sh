#!/usr/bin/env bash
# Smoke test of the .dmg on a Mac: mount it, copy the app out as a person would (to a temporary
# "Applications"), run --version, index resources/samples with a tiny local model, search, then remove the
# app; the data folder must survive. Usage: packaging/macos/smoke_test.sh packaging/out/desktop-search-*.dmg
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DMG="$1"
MODEL="${SMOKE_MODEL:-/tmp/tiny-model}"
WORK="$(mktemp -d)"
DATA="$WORK/data"
fail() { echo "SMOKE TEST FAILED: $*" >&2; exit 1; }
[ -f "$MODEL/config.json" ] || "$ROOT/packaging/build-venv/bin/python" -m desktop_search.testing.models tiny "$MODEL"
MNT="$WORK/mnt"
mkdir -p "$MNT" "$WORK/Applications"
hdiutil attach -nobrowse -readonly -mountpoint "$MNT" "$DMG" >/dev/null
cp -R "$MNT/Desktop Search.app" "$WORK/Applications/"
hdiutil detach "$MNT" >/dev/null
EXE="$WORK/Applications/Desktop Search.app/Contents/MacOS/desktop-search"
"$EXE" --version | grep -E '^desktop-search [0-9]' || fail "--version"
"$EXE" --data-dir "$DATA" --model "$MODEL" index "$ROOT/resources/samples"
"$EXE" --data-dir "$DATA" --model "$MODEL" status --json > "$WORK/status.json"
"$EXE" --data-dir "$DATA" --model "$MODEL" search "sourdough starter" --mode keyword --json > "$WORK/kw.json"
"$EXE" --data-dir "$DATA" --model "$MODEL" search "baking bread at home" --mode semantic --json > "$WORK/sem.json"
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
status, kw, sem = (json.load(open(f"{w}/{n}.json")) for n in ("status", "kw", "sem"))
assert status["failed"] == 0 and status["indexed"] >= 7 and status["vectors"] > 0, status
assert kw["results"][0]["path"].endswith("sourdough.md"), kw
assert sem["results"] and "notice" not in sem, sem
PY
rm -rf "$WORK/Applications/Desktop Search.app"
[ -f "$DATA/catalog.db" ] || fail "data folder should be kept"
echo "SMOKE TEST PASSED"
