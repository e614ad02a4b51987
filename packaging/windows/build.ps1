# Build the Windows installer on a Windows machine (x64, Python 3.11 with the py launcher or on PATH,
# NSIS 3 on PATH or in its default folder; winget install NSIS.NSIS / choco install nsis):
#
#     powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
#
# -> packaging\out\desktop-search-<version>-setup.exe  (per-user install, no administrator rights)
#
# Steps: a build venv (packaging\build-venv) with exactly the locked runtime dependencies (uv.lock; the torch
# wheels for Windows on PyPI are CPU-only) plus PyInstaller (a build tool, not in the lock); the one-folder
# bundle from packaging\desktop-search.spec (desktop-search.exe for the command line, desktop-search-gui.exe
# without a console for the Start menu); an .ico rendered from resources\icon.svg with QtSvg; then makensis.
# Signing: set SIGN_CERT_THUMBPRINT to sign both executables and the installer with signtool (Authenticode).
param(
    [switch]$SkipBundle,
    [switch]$SmokeTest
)
$ErrorActionPreference = "Stop"
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
$Out = Join-Path $Root "packaging\out"
$Venv = Join-Path $Root "packaging\build-venv"
$PyInstallerVersion = "6.22.3"
$UvVersion = "0.13.9"
New-Item -ItemType Directory -Force -Path $Out | Out-Null
$started = Get-Date

function Invoke-Checked([string]$Exe, [string[]]$Arguments) {
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

# ---------------------------------------------------------------- Python 3.11 and uv
$Py = $env:PYTHON
if (-not $Py) {
    if (Get-Command py -ErrorAction SilentlyContinue) { $Py = (& py -3.11 -c "import sys; print(sys.executable)") }
    else { $Py = "python" }
}
Invoke-Checked $Py @("-c", "import sys; assert sys.version_info[:2] == (3, 11), sys.version")
$Tools = Join-Path $Root ".venv-tools"
$Uv = Join-Path $Tools "Scripts\uv.exe"
if (-not (Test-Path $Uv)) {
    Invoke-Checked $Py @("-m", "venv", $Tools)
    Invoke-Checked (Join-Path $Tools "Scripts\python.exe") @("-m", "pip", "install", "--quiet", "uv==$UvVersion")
}

# ---------------------------------------------------------------- build venv + bundle
$VenvPy = Join-Path $Venv "Scripts\python.exe"
if (-not $SkipBundle) {
    if (-not (Test-Path (Join-Path $Venv "Scripts\pyinstaller.exe"))) {
        Invoke-Checked $Uv @("venv", "-q", "--python", $Py, $Venv)
        $req = Join-Path $Out "requirements-build.txt"
        & $Uv export --frozen --no-dev --no-emit-project --no-hashes -q --project $Root | Set-Content -Encoding ascii $req
        if ($LASTEXITCODE -ne 0) { throw "uv export failed" }
        Invoke-Checked $Uv @("pip", "install", "-q", "--python", $VenvPy, "-r", $req, "pyinstaller==$PyInstallerVersion")
        Invoke-Checked $Uv @("pip", "install", "-q", "--python", $VenvPy, "--no-deps", "-e", $Root)
    }
    # the executable icon, rendered from the SVG by the bundle's own Qt
    $Ico = Join-Path $Out "desktop-search.ico"
    $env:QT_QPA_PLATFORM = "offscreen"
    Invoke-Checked $VenvPy @("-c", @"
import sys
from PySide6.QtGui import QGuiApplication, QIcon
app = QGuiApplication([])
img = QIcon(sys.argv[1]).pixmap(256, 256).toImage()  # Windows scales a 256 px icon down for smaller uses
assert img.save(sys.argv[2], 'ICO'), 'Qt could not write an .ico (qico image plugin missing?)'
"@, (Join-Path $Root "resources\icon.svg"), $Ico)
    Remove-Item Env:\QT_QPA_PLATFORM
    $env:DESKTOP_SEARCH_ICON = $Ico
    Invoke-Checked (Join-Path $Venv "Scripts\pyinstaller.exe") @("--noconfirm", "--log-level", "WARN",
        "--distpath", (Join-Path $Out "dist"), "--workpath", (Join-Path $Out "work"),
        (Join-Path $Root "packaging\desktop-search.spec"))
}
$Bundle = Join-Path $Out "dist\desktop-search"
$Version = (Select-String -Path (Join-Path $Out "app-info.env") -Pattern '^VERSION=(.*)$').Matches[0].Groups[1].Value

# ---------------------------------------------------------------- signing (optional)
function Sign-File([string]$Path) {
    if (-not $env:SIGN_CERT_THUMBPRINT) { return }
    Invoke-Checked "signtool.exe" @("sign", "/sha1", $env:SIGN_CERT_THUMBPRINT, "/fd", "SHA256",
        "/tr", ($env:SIGN_TIMESTAMP_URL, "http://timestamp.digicert.com" | Where-Object { $_ } | Select-Object -First 1),
        "/td", "SHA256", $Path)
}
Sign-File (Join-Path $Bundle "desktop-search.exe")
Sign-File (Join-Path $Bundle "desktop-search-gui.exe")

# ---------------------------------------------------------------- NSIS
$MakeNsis = (Get-Command makensis -ErrorAction SilentlyContinue).Source
if (-not $MakeNsis) { $MakeNsis = "${env:ProgramFiles(x86)}\NSIS\makensis.exe" }
$Setup = Join-Path $Out "desktop-search-$Version-setup.exe"
$nsisArgs = @("/V2", "/DAPP_VERSION=$Version", "/DSOURCE_DIR=$Bundle", "/DOUT_FILE=$Setup")
if (Test-Path (Join-Path $Out "desktop-search.ico")) { $nsisArgs += "/DAPP_ICON=$(Join-Path $Out 'desktop-search.ico')" }
Invoke-Checked $MakeNsis ($nsisArgs + @((Join-Path $PSScriptRoot "installer.nsi")))
Sign-File $Setup

$size = "{0:N0} MB" -f ((Get-Item $Setup).Length / 1MB)
Write-Host "installer: $Setup ($size) in $([int]((Get-Date) - $started).TotalSeconds) s"

if ($SmokeTest) { & (Join-Path $PSScriptRoot "smoke_test.ps1") -Installer $Setup; if ($LASTEXITCODE) { exit $LASTEXITCODE } }
