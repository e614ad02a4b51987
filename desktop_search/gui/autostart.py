"""Start at login: an XDG autostart entry on Linux, a LaunchAgent on macOS, the Run key on Windows.

The entry itself is the setting (nothing else is stored): :func:`is_enabled` looks for it.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

APP_ID = "desktop-search"
MAC_LABEL = "io.github.desktop-search"
WINDOWS_RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
WINDOWS_VALUE = "Desktop Search"


def appimage() -> str | None:
    """The .AppImage file this process runs from, or None.

    Inside an AppImage ``sys.executable`` lies in the image's mount point (``$APPDIR``, a new
    ``/tmp/.mount_*`` each run, gone once the app ends): an entry naming it would start nothing at the
    next login. The AppImage runtime sets ``$APPIMAGE`` to the image file itself. Both variables are
    inherited by whatever the app starts, so ``$APPIMAGE`` counts only when this executable is inside
    ``$APPDIR`` (or, without ``$APPDIR``, when this is the frozen app)."""
    image, appdir = os.environ.get("APPIMAGE"), os.environ.get("APPDIR")
    if not image or not os.path.isfile(image):
        return None
    if appdir:
        inside = Path(os.path.realpath(sys.executable)).is_relative_to(os.path.realpath(appdir))
        return os.path.abspath(image) if inside else None
    return os.path.abspath(image) if getattr(sys, "frozen", False) else None


def launch_command(data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The command that starts the app at login: in the tray, window hidden, indexing and watching
    (with ``--data-dir`` when it is not the default one); the .AppImage file when run from one."""
    image = appimage()
    if image is not None:
        command = [image]
    elif getattr(sys, "frozen", False):
        command = [sys.executable]
    else:
        command = [sys.executable, "-m", "desktop_search"]
    if data_dir is not None:
        from desktop_search.core.service import default_data_dir

        if Path(data_dir).absolute() != default_data_dir().absolute():
            command += ["--data-dir", str(data_dir)]
    return command + ["--minimized"]


def _platform(platform: str | None) -> str:
    return platform or sys.platform


def entry_path(platform: str | None = None) -> Path | None:
    """Where the entry lives (None on Windows, where it is a registry value)."""
    platform = _platform(platform)
    if platform == "win32":
        return None
    if platform == "darwin":
        return Path.home() / "Library" / "LaunchAgents" / f"{MAC_LABEL}.plist"
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / f"{APP_ID}.desktop"


def _desktop_quote(arg: str) -> str:
    """Quote one Exec argument as the Desktop Entry spec says (and double % for field codes)."""
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def desktop_entry(command: list[str]) -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=Desktop Search",
        "Comment=Find files on this computer by what they mean",
        "Exec=" + " ".join(_desktop_quote(a) for a in command),
        f"Icon={APP_ID}",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


def is_enabled(platform: str | None = None) -> bool:
    path = entry_path(platform)
    if path is not None:
        return path.is_file()
    try:
        import winreg  # type: ignore[import-not-found]

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY) as key:
            winreg.QueryValueEx(key, WINDOWS_VALUE)
        return True
    except OSError:
        return False


def enable(command: list[str], platform: str | None = None) -> Path | None:
    """Write the entry that runs ``command`` at login; returns its file (None for the registry)."""
    platform = _platform(platform)
    path = entry_path(platform)
    if path is None:
        import winreg  # type: ignore[import-not-found]

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY) as key:
            winreg.SetValueEx(key, WINDOWS_VALUE, 0, winreg.REG_SZ, subprocess.list2cmdline(command))
        return None
    if platform == "darwin":
        data = plistlib.dumps({"Label": MAC_LABEL, "ProgramArguments": command, "RunAtLoad": True,
                               "ProcessType": "Interactive"})
    else:
        data = desktop_entry(command).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def disable(platform: str | None = None) -> None:
    path = entry_path(platform)
    if path is not None:
        path.unlink(missing_ok=True)
        return
    import winreg  # type: ignore[import-not-found]

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, WINDOWS_VALUE)
    except FileNotFoundError:
        pass


def set_enabled(enabled: bool, command: list[str], platform: str | None = None) -> None:
    if enabled:
        enable(command, platform)
    else:
        disable(platform)
