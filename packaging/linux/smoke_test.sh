#!/usr/bin/env bash
# Smoke test of the Linux package, as root on Debian/Ubuntu (what a person's install does):
#
#     packaging/linux/smoke_test.sh [packaging/out/desktop-search_<version>_amd64.deb]
#
# installs the .deb with apt (pulling in its Depends), runs `desktop-search --version`, indexes
# resources/samples with a local tiny model (extraction workers are the frozen executable itself), searches
# (keyword and semantic), opens the window under Xvfb, types a query and saves a screenshot
# (SCREENSHOT, default docs/screenshots/09-installed.png), then `apt-get purge`s the package and checks
# that nothing it installed is left in /usr or /opt, while the user's data folder is still there.
#   SMOKE_MODEL=/path/to/model   the model folder (default /tmp/tiny-model, made with
#                                `python -m desktop_search.testing.models tiny` from a dev or build venv)
#   SMOKE_KEEP_INSTALLED=1       skip the uninstall (e.g. to run packaging/bench_startup.py afterwards)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DEB="${1:-$(ls -t "$ROOT"/packaging/out/desktop-search_*.deb 2>/dev/null | head -1)}"
[ -f "$DEB" ] || { echo "error: no .deb given or found in packaging/out" >&2; exit 1; }
DEB="$(cd "$(dirname "$DEB")" && pwd)/$(basename "$DEB")"
MODEL="${SMOKE_MODEL:-/tmp/tiny-model}"
SHOT="${SCREENSHOT:-$ROOT/docs/screenshots/09-installed.png}"
PKG="$(dpkg-deb -f "$DEB" Package)"
VERSION="$(dpkg-deb -f "$DEB" Version)"
WORK="$(mktemp -d)"
DATA="$WORK/data"  # the user's data folder: must survive the uninstall
step() { printf '\n== %s\n' "$*" >&2; }
fail() { echo "SMOKE TEST FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (it installs a package)"
if [ ! -f "$MODEL/config.json" ]; then
    step "making a tiny model in $MODEL"
    for py in "$ROOT/.venv/bin/python" "$ROOT/packaging/build-venv/bin/python"; do
        if [ -x "$py" ] && "$py" -m desktop_search.testing.models tiny "$MODEL" >/dev/null 2>&1; then break; fi
    done
    [ -f "$MODEL/config.json" ] || fail "no model folder at $MODEL"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends xvfb xauth xdotool x11-utils imagemagick >/dev/null

step "snapshot of /usr and /opt before installing"
snapshot() { find /usr /opt -xdev \( -path /usr/lib/python3/dist-packages -prune \) -o -print 2>/dev/null | sort; }
snapshot > "$WORK/before.txt"

step "install $DEB"
apt-get install -y -qq --no-install-recommends "$DEB" >/dev/null
snapshot > "$WORK/installed.txt"
command -v desktop-search >/dev/null || fail "desktop-search is not on PATH"
[ -f /usr/share/applications/desktop-search.desktop ] || fail "no desktop entry"
[ -f /usr/share/icons/hicolor/256x256/apps/desktop-search.png ] || fail "no hicolor icon"
if command -v desktop-file-validate >/dev/null; then desktop-file-validate /usr/share/applications/desktop-search.desktop; fi

step "desktop-search --version"
out="$(desktop-search --version)"
echo "$out"
[ "$out" = "desktop-search $VERSION" ] || fail "--version said '$out', the package is $VERSION"

step "index resources/samples (isolated extraction workers = the frozen executable)"
desktop-search --data-dir "$DATA" --model "$MODEL" index "$ROOT/resources/samples"
desktop-search --data-dir "$DATA" --model "$MODEL" status --json > "$WORK/status.json"
desktop-search --data-dir "$DATA" --model "$MODEL" failed --json > "$WORK/failed.json"
python3 - "$WORK/status.json" "$WORK/failed.json" <<'PY'
import json, sys
status, failed = (json.load(open(p)) for p in sys.argv[1:3])
print("status:", {k: status[k] for k in status if not isinstance(status[k], (dict, list))})
assert failed == [] and status["failed"] == 0, f"files failed: {failed}"
assert status["indexed"] >= 7 and status["pending"] == 0 and status["vectors"] > 0, status
PY

step "search: keyword and semantic"
desktop-search --data-dir "$DATA" --model "$MODEL" search "sourdough starter" --mode keyword --json > "$WORK/kw.json"
desktop-search --data-dir "$DATA" --model "$MODEL" search "baking bread at home" --mode semantic --json > "$WORK/sem.json"
python3 - "$WORK/kw.json" "$WORK/sem.json" <<'PY'
import json, sys
kw, sem = (json.load(open(p)) for p in sys.argv[1:3])
print("keyword:", [r["path"].rsplit("/", 1)[-1] for r in kw["results"]])
print("semantic:", [r["path"].rsplit("/", 1)[-1] for r in sem["results"]][:5])
assert kw["results"] and kw["results"][0]["path"].endswith("sourdough.md"), kw
assert sem["results"] and sem["mode"] == "semantic" and "notice" not in sem, sem  # the model loaded, vectors searched
PY
desktop-search extract "$ROOT/resources/samples/jupiter.txt" | head -c 200; echo

step "window under Xvfb, a query typed, screenshot -> $SHOT"
mkdir -p "$(dirname "$SHOT")"
# A random display number (and up to three tries): other X servers on a shared machine race for :99.
gui_try() {
xvfb-run -a -n $((100 + RANDOM % 800)) -s "-screen 0 1280x800x24" bash -s "$DATA" "$MODEL" "$SHOT" "$WORK" <<'SH'
set -euo pipefail
DATA=$1 MODEL=$2 SHOT=$3 WORK=$4
DESKTOP_SEARCH_THEME=light desktop-search --data-dir "$DATA" --model "$MODEL" >"$WORK/gui.log" 2>&1 &
app=$!
for _ in $(seq 1 120); do
    wid="$(xdotool search --onlyvisible --name 'Desktop Search' 2>/dev/null | head -1 || true)"
    [ -n "$wid" ] && break
    kill -0 $app 2>/dev/null || { cat "$WORK/gui.log" >&2; echo "the window never opened" >&2; exit 1; }
    sleep 0.5
done
[ -n "$wid" ] || { echo "no window after 60 s" >&2; exit 1; }
xdotool windowsize "$wid" 1100 700 windowmove "$wid" 90 50 windowfocus --sync "$wid" 2>/dev/null || true
sleep 2
xdotool type --delay 60 "bread starter"
sleep 4
import -window root "$SHOT"
kill -TERM $app
wait $app || true
SH
}
gui_try || gui_try || gui_try || fail "the window did not open under Xvfb (3 tries)"
[ -s "$SHOT" ] || fail "no screenshot"
python3 -c "import sys; d=open(sys.argv[1],'rb').read(24); assert d[:8]==b'\x89PNG\r\n\x1a\n'; import struct; print('screenshot', struct.unpack('>II', d[16:24]))" "$SHOT"

if [ "${SMOKE_KEEP_INSTALLED:-}" = 1 ]; then
    echo "SMOKE TEST PASSED (left installed)"; exit 0
fi

step "uninstall: apt-get purge $PKG"
apt-get purge -y -qq "$PKG" >/dev/null
snapshot > "$WORK/after.txt"
# Every path that appeared since before the install must belong to some other package now: the
# libraries apt pulled in for our Depends stay (apt-get autoremove is the person's call), nothing of ours
# may. Caches that dpkg triggers rebuild (icon/desktop/mime databases) are not owned by any package.
comm -13 "$WORK/before.txt" "$WORK/after.txt" \
    | grep -v -E '/(icon-theme\.cache|mimeinfo\.cache|desktop\.cache)$|/usr/share/mime/' > "$WORK/new.txt" || true
left="$(python3 - "$WORK/new.txt" <<'PY'
import subprocess, sys
paths = [p for p in open(sys.argv[1]).read().splitlines() if p]
owned = set()
for i in range(0, len(paths), 200):
    out = subprocess.run(["dpkg-query", "-S", *paths[i:i + 200]], capture_output=True, text=True).stdout
    owned |= {line.split(": ", 1)[1] for line in out.splitlines() if ": " in line}
print("\n".join(p for p in paths if p not in owned))
PY
)"
echo "$(wc -l < "$WORK/new.txt") new paths since before the install, all owned by other packages (our Depends)" >&2
[ -z "$left" ] || fail "left behind after purge (owned by no package): $(echo "$left" | head -20)"
if [ "$(comm -13 "$WORK/before.txt" "$WORK/after.txt" | grep -c '^/opt')" != 0 ]; then fail "files left in /opt"; fi
[ ! -e /opt/desktop-search ] && [ ! -e /usr/bin/desktop-search ] || fail "files left in /opt or /usr/bin"
[ -f "$DATA/catalog.db" ] || fail "the user's data folder should be kept"
echo "user data kept: $DATA ($(du -sh "$DATA" | cut -f1))"
echo "SMOKE TEST PASSED"
