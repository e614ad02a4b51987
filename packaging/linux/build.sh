#!/usr/bin/env bash
# Build the Linux installers, one command:
#
#     packaging/linux/build.sh
#
# -> packaging/out/desktop-search_<version>_<arch>.deb
#    packaging/out/Desktop_Search-<version>-<arch>.AppImage   (when an AppImage runtime is available, else
#    packaging/out/Desktop_Search.AppDir + Desktop_Search-<version>-<arch>.squashfs and a note)
#
# Needs (Debian/Ubuntu): dpkg-dev, librsvg2-bin (icons), squashfs-tools (AppImage); the script installs them
# with apt-get when run as root. Environment:
#   TORCH_INDEX=https://download.pytorch.org/whl/cpu  CPU-only torch (what the release workflow ships)
#   DEB_COMPRESSION=zstd|xz|gzip (default zstd -9: 30x faster than xz -6 on these libraries for ~20% more
#                     bytes; installs with dpkg >= 1.21.18 (Debian 12) or Ubuntu's dpkg since 21.10; xz for older)
#   APPIMAGE_RUNTIME=/path/to/runtime-x86_64  the AppImage type-2 runtime (from AppImage/type2-runtime releases;
#                     appimagetool is used instead when it is on PATH)
#   SKIP_BUNDLE=1     reuse packaging/out/dist/desktop-search from an earlier run
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/packaging/out"
started=$(date +%s)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=""
    command -v dpkg-deb >/dev/null || missing="$missing dpkg-dev"
    command -v rsvg-convert >/dev/null || missing="$missing librsvg2-bin"
    command -v mksquashfs >/dev/null || missing="$missing squashfs-tools"
    if [ -n "$missing" ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    fi
fi

[ "${SKIP_BUNDLE:-}" = 1 ] || "$ROOT/packaging/build-bundle.sh"
BUNDLE="$OUT/dist/desktop-search"
[ -x "$BUNDLE/desktop-search" ] || { echo "error: no bundle at $BUNDLE" >&2; exit 1; }
# shellcheck disable=SC1091
source "$OUT/app-info.env"  # NAME, VERSION, APP_NAME, APP_ID: written by the spec from pyproject.toml
ARCH_DEB="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
ARCH_AI="$(uname -m)"
bundle_done=$(date +%s)

# ------------------------------------------------------------------ icons (hicolor sizes from the SVG)
ICONS="$OUT/icons/hicolor"
rm -rf "$OUT/icons"
for size in 16 24 32 48 64 128 256 512; do
    mkdir -p "$ICONS/${size}x${size}/apps"
    if command -v rsvg-convert >/dev/null; then
        rsvg-convert -w "$size" -h "$size" "$ROOT/resources/icon.svg" -o "$ICONS/${size}x${size}/apps/$NAME.png"
    else  # QtSvg from the bundle's own PySide6 (build venv)
        QT_QPA_PLATFORM=offscreen "$ROOT/packaging/build-venv/bin/python" - "$ROOT/resources/icon.svg" "$size" \
            "$ICONS/${size}x${size}/apps/$NAME.png" <<'PY'
import sys
from PySide6.QtGui import QGuiApplication, QIcon
app = QGuiApplication([])
QIcon(sys.argv[1]).pixmap(int(sys.argv[2]), int(sys.argv[2])).save(sys.argv[3])
PY
    fi
done
mkdir -p "$ICONS/scalable/apps"
cp "$ROOT/resources/icon.svg" "$ICONS/scalable/apps/$NAME.svg"

# ------------------------------------------------------------------ .deb
# /opt/desktop-search: the bundle; /usr/bin/desktop-search: a symlink (the bootloader resolves it to find
# its _internal/ folder); desktop entry and icons in the standard places (hicolor-icon-theme and
# desktop-file-utils refresh their caches through dpkg triggers, so no maintainer scripts are needed and
# `apt-get purge` removes every file the package installed).
PKG="$OUT/deb/${NAME}_${VERSION}_${ARCH_DEB}"
rm -rf "$OUT/deb"
mkdir -p "$PKG/DEBIAN" "$PKG/opt" "$PKG/usr/bin" "$PKG/usr/share/applications" "$PKG/usr/share/icons" \
    "$PKG/usr/share/doc/$NAME" "$PKG/usr/share/metainfo"
cp -a "$BUNDLE" "$PKG/opt/$NAME"
ln -s "/opt/$NAME/$NAME" "$PKG/usr/bin/$NAME"
install -m 644 "$HERE/desktop-search.desktop" "$PKG/usr/share/applications/$NAME.desktop"
cp -a "$OUT/icons/hicolor" "$PKG/usr/share/icons/"
sed -e "s/@VERSION@/$VERSION/g" -e "s/@DATE@/$(date -u +%F)/g" -e "s/@APP_ID@/$APP_ID/g" \
    "$HERE/metainfo.xml.in" > "$PKG/usr/share/metainfo/$APP_ID.metainfo.xml"
cat > "$PKG/usr/share/doc/$NAME/copyright" <<TXT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $NAME
Comment: The bundle in /opt/$NAME includes Python, PyTorch, Qt (PySide6, LGPLv3) and the other
 libraries listed in /opt/$NAME/_internal/*.dist-info, each under its own licence.
TXT
find "$PKG" -type d -exec chmod 755 {} +
chmod -R u+rwX,go+rX,go-w "$PKG/opt"
installed_kb=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
# Qt's xcb platform plugin and its GL/font/D-Bus stack come from the system: list them so a minimal
# desktop install pulls them in (names valid on Debian 12 and Ubuntu 22.04/24.04).
DEPENDS="libc6 (>= 2.31), libegl1, libgl1, libopengl0, libxkbcommon0, libxkbcommon-x11-0, libfontconfig1, libfreetype6, \
libdbus-1-3, libglib2.0-0, libx11-6, libx11-xcb1, libxcb1, libxcb-cursor0, libxcb-icccm4, libxcb-image0, \
libxcb-keysyms1, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libxcb-shm0, libxcb-sync1, libxcb-xfixes0, \
libxcb-xinerama0, libxcb-xkb1, libxrender1, libice6, libsm6, libwayland-client0, libwayland-cursor0, libwayland-egl1"
cat > "$PKG/DEBIAN/control" <<TXT
Package: $NAME
Version: $VERSION
Architecture: $ARCH_DEB
Maintainer: desktop-search maintainers <desktop-search@users.noreply.github.com>
Installed-Size: $installed_kb
Depends: $DEPENDS
Recommends: hicolor-icon-theme, desktop-file-utils
Section: utils
Priority: optional
Description: find the files on this computer by what they mean
 Desktop Search reads PDFs, office documents, e-books, web pages, mail, notes and
 code in your folders, encodes them with a late-interaction (ColBERT) model and
 answers as you type, with the passages that matched. Everything stays on this
 computer. The model (~130 MB) is downloaded on first use unless bundled.
TXT
comp="${DEB_COMPRESSION:-zstd}"
deb="$OUT/${NAME}_${VERSION}_${ARCH_DEB}.deb"
rm -f "$deb"
case "$comp" in
    zstd) dpkg-deb --root-owner-group -Zzstd -z9 --threads-max="$(nproc)" --build "$PKG" "$deb" >/dev/null 2>&1 \
          || dpkg-deb --root-owner-group -Zzstd -z9 --build "$PKG" "$deb" >/dev/null ;;
    gzip) dpkg-deb --root-owner-group -Zgzip -z9 --build "$PKG" "$deb" >/dev/null ;;
    *)    dpkg-deb --root-owner-group -Zxz --build "$PKG" "$deb" >/dev/null ;;
esac
deb_done=$(date +%s)

# ------------------------------------------------------------------ AppImage
APPDIR="$OUT/Desktop_Search.AppDir"
rm -rf "$APPDIR"
mkdir -p "$APPDIR/usr/lib" "$APPDIR/usr/share/applications" "$APPDIR/usr/share/icons" "$APPDIR/usr/share/metainfo"
cp -a "$BUNDLE" "$APPDIR/usr/lib/$NAME"
cp -a "$OUT/icons/hicolor" "$APPDIR/usr/share/icons/"
install -m 644 "$HERE/desktop-search.desktop" "$APPDIR/usr/share/applications/$NAME.desktop"
install -m 644 "$HERE/desktop-search.desktop" "$APPDIR/$NAME.desktop"
cp "$PKG/usr/share/metainfo/$APP_ID.metainfo.xml" "$APPDIR/usr/share/metainfo/$NAME.appdata.xml"
cp "$ICONS/256x256/apps/$NAME.png" "$APPDIR/$NAME.png"
ln -s "$NAME.png" "$APPDIR/.DirIcon"
cat > "$APPDIR/AppRun" <<'SH'
#!/bin/sh
# AppImage entry: run the bundled app; the user's data stays in ~/.local/share/desktop-search.
HERE="$(dirname "$(readlink -f "$0")")"
exec "$HERE/usr/lib/desktop-search/desktop-search" "$@"
SH
chmod 755 "$APPDIR/AppRun"
appimage="$OUT/Desktop_Search-${VERSION}-${ARCH_AI}.AppImage"
squash="$OUT/Desktop_Search-${VERSION}-${ARCH_AI}.squashfs"
rm -f "$appimage" "$squash"
appimage_note=""
if command -v appimagetool >/dev/null; then
    ARCH="$ARCH_AI" appimagetool --no-appstream "$APPDIR" "$appimage"
else
    # A type-2 AppImage is the runtime (an ELF that mounts or extracts what follows it) + a squashfs image
    # of the AppDir; this is what appimagetool writes too, minus its optional update/signature sections.
    mksquashfs "$APPDIR" "$squash" -root-owned -noappend -comp zstd -Xcompression-level 9 -b 1M \
        -processors "$(nproc)" -quiet >/dev/null
    runtime="${APPIMAGE_RUNTIME:-$OUT/appimage-runtime/runtime-$ARCH_AI}"
    if [ -x "$runtime" ] || [ -f "$runtime" ]; then
        cat "$runtime" "$squash" > "$appimage"
        chmod 755 "$appimage"
        rm -f "$squash"
    else
        appimage_note="no AppImage runtime here (set APPIMAGE_RUNTIME or put appimagetool on PATH): built $APPDIR and $squash"
    fi
fi
done_at=$(date +%s)

echo "bundle: $(du -sh "$BUNDLE" | cut -f1) in $((bundle_done - started)) s" >&2
echo "deb:    $(du -h "$deb" | cut -f1) $deb ($comp, $((deb_done - bundle_done)) s)" >&2
if [ -f "$appimage" ]; then
    echo "AppImage: $(du -h "$appimage" | cut -f1) $appimage ($((done_at - deb_done)) s)" >&2
else
    echo "AppImage: $appimage_note" >&2
fi
echo "total: $((done_at - started)) s" >&2
