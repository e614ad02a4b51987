# Smoke test of the Windows installer on a Windows machine (the release workflow runs it):
#     powershell -ExecutionPolicy Bypass -File packaging\windows\smoke_test.ps1 -Installer packaging\out\desktop-search-0.1.0-setup.exe
# Silent per-user install, --version, index resources\samples with a tiny local model (extraction workers are
# the frozen executable), keyword + semantic search, silent uninstall; the data folder must survive it.
param([Parameter(Mandatory = $true)][string]$Installer, [string]$Model = "$env:TEMP\tiny-model")
$ErrorActionPreference = "Stop"
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
$InstDir = Join-Path $env:LOCALAPPDATA "Programs\desktop-search"
$Data = Join-Path $env:TEMP "desktop-search-smoke-data"
function Fail([string]$Message) { Write-Error "SMOKE TEST FAILED: $Message"; exit 1 }

if (-not (Test-Path (Join-Path $Model "config.json"))) {
    & (Join-Path $Root "packaging\build-venv\Scripts\python.exe") -m desktop_search.testing.models tiny $Model
    if ($LASTEXITCODE) { Fail "could not make the tiny model" }
}
Start-Process -FilePath $Installer -ArgumentList "/S" -Wait
$Exe = Join-Path $InstDir "desktop-search.exe"
if (-not (Test-Path $Exe)) { Fail "not installed to $InstDir" }
if (-not (Test-Path (Join-Path $env:APPDATA "Microsoft\Windows\Start Menu\Programs\Desktop Search.lnk"))) { Fail "no Start-menu entry" }

$version = & $Exe --version
Write-Host $version
if ($LASTEXITCODE -or -not ($version -match '^desktop-search \d')) { Fail "--version: $version" }
& $Exe --data-dir $Data --model $Model index (Join-Path $Root "resources\samples")
if ($LASTEXITCODE) { Fail "index" }
$status = & $Exe --data-dir $Data --model $Model status --json | ConvertFrom-Json
if ($status.failed -ne 0 -or $status.indexed -lt 7 -or $status.vectors -le 0) { Fail "status: $($status | ConvertTo-Json -Compress)" }
$kw = & $Exe --data-dir $Data --model $Model search "sourdough starter" --mode keyword --json | ConvertFrom-Json
if (-not ($kw.results[0].path -like "*sourdough.md")) { Fail "keyword search: $($kw | ConvertTo-Json -Compress)" }
$sem = & $Exe --data-dir $Data --model $Model search "baking bread at home" --mode semantic --json | ConvertFrom-Json
if ($sem.results.Count -lt 1 -or $sem.notice) { Fail "semantic search: $($sem | ConvertTo-Json -Compress)" }

Start-Process -FilePath (Join-Path $InstDir "uninstall.exe") -ArgumentList "/S" -Wait
for ($i = 0; $i -lt 60 -and (Test-Path $InstDir); $i++) { Start-Sleep -Seconds 1 }  # the uninstaller runs from %TEMP%
if (Test-Path $InstDir) { Fail "install folder left behind: $(Get-ChildItem -Recurse $InstDir | Select-Object -First 10)" }
if (-not (Test-Path (Join-Path $Data "catalog.db"))) { Fail "the data folder should be kept" }
Write-Host "SMOKE TEST PASSED"
