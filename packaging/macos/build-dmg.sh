#!/usr/bin/env bash
# Build "Desktop Search.app" and a .dmg on a Mac, for the Mac's own architecture (run it on Apple Silicon
# for arm64 and on an Intel Mac, e.g. the macos-13 runner, for x86_64: torch has no universal2 wheel):
#
#     packaging/macos/build-dmg.sh
#
# -> packaging/out/desktop-search-<version>-macos-<arm64|x86_64>.dmg
#
# Signing and notarisation (optional; see packaging/macos/SIGNING.md):
#   CODESIGN_IDENTITY="Developer ID Application: Name (TEAMID)"   sign every binary, hardened runtime
#   NOTARY_PROFILE=<keychain profile from `xcrun notarytool store-credentials`>   notarise and staple
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/packaging/out"
ARCH="$(uname -m)"
mkdir -p "$OUT"
started=$(date +%s)

# .icns from resources/icon.svg, rendered by the build venv's own QtSvg
VENV_ONLY=1 "$ROOT/packaging/build-bundle.sh"
iconset="$OUT/desktop-search.iconset"
rm -rf "$iconset"; mkdir -p "$iconset"
QT_QPA_PLATFORM=offscreen "$ROOT/packaging/build-venv/bin/python" - "$ROOT/resources/icon.svg" "$iconset" <<'PY'
import sys
from PySide6.QtGui import QGuiApplication, QIcon
app = QGuiApplication([])
icon = QIcon(sys.argv[1])
for size in (16, 32, 128, 256, 512):
    icon.pixmap(size, size).save(f"{sys.argv[2]}/icon_{size}x{size}.png")
    icon.pixmap(size * 2, size * 2).save(f"{sys.argv[2]}/icon_{size}x{size}@2x.png")
PY
iconutil -c icns "$iconset" -o "$OUT/desktop-search.icns"
DESKTOP_SEARCH_ICON="$OUT/desktop-search.icns" "$ROOT/packaging/build-bundle.sh"  # the spec's BUNDLE writes the .app
# shellcheck disable=SC1091
source "$OUT/app-info.env"
APP="$OUT/dist/$APP_NAME.app"
[ -d "$APP" ] || { echo "error: $APP was not built" >&2; exit 1; }

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    # PyInstaller signed each binary with the identity (spec: codesign_identity); seal the whole app with the
    # hardened runtime and its entitlements, which notarisation requires.
    codesign --force --deep --timestamp --options runtime --entitlements "$HERE/entitlements.plist" \
        --sign "$CODESIGN_IDENTITY" "$APP"
    codesign --verify --deep --strict --verbose=2 "$APP"
fi

DMG="$OUT/$NAME-$VERSION-macos-$ARCH.dmg"
STAGE="$OUT/dmg-stage"
rm -rf "$STAGE" "$DMG"
mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"   # drag-to-install
hdiutil create -volname "$APP_NAME" -srcfolder "$STAGE" -fs HFS+ -format ULMO -ov "$DMG" >/dev/null
rm -rf "$STAGE"

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$DMG"
fi
if [ -n "${NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
fi
echo "dmg: $DMG ($(du -h "$DMG" | cut -f1)) in $(( $(date +%s) - started )) s" >&2
