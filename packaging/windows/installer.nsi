; Windows installer for desktop-search: per-user, no administrator rights needed.
;
;   makensis /DAPP_VERSION=0.1.0 /DSOURCE_DIR=..\out\dist\desktop-search /DOUT_FILE=..\out\desktop-search-0.1.0-setup.exe installer.nsi
;
; (packaging/windows/build.ps1 does this after PyInstaller.) Installs the PyInstaller one-folder bundle to
; %LOCALAPPDATA%\Programs\desktop-search, adds a Start-menu entry (the windowed desktop-search-gui.exe) and an
; entry in "Installed apps" (HKCU); the uninstaller removes all of that, the start-at-login entry, and asks
; whether to delete the index, settings and logs too (default: keep them, so a reinstall finds the index).
; Compiles with Debian's makensis as well (tests/unit/test_packaging.py does so against a stub payload).

Unicode true
ManifestDPIAware true
SetCompressor /SOLID lzma
SetCompressorDictSize 64
RequestExecutionLevel user

!ifndef APP_VERSION
  !error "pass /DAPP_VERSION=x.y.z (the version in pyproject.toml)"
!endif
!ifndef SOURCE_DIR
  !error "pass /DSOURCE_DIR=path\to\dist\desktop-search (the PyInstaller bundle)"
!endif
!ifndef OUT_FILE
  !define OUT_FILE "desktop-search-${APP_VERSION}-setup.exe"
!endif

!define APP_NAME "Desktop Search"
!define APP_ID "desktop-search"
!define GUI_EXE "desktop-search-gui.exe"
!define CLI_EXE "desktop-search.exe"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_ID}"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define RUN_VALUE "Desktop Search"
; the app's own data (platformdirs user_data_dir, appauthor=False) and Qt settings (QSettings in HKCU)
!define DATA_DIR "$LOCALAPPDATA\${APP_ID}"
!define SETTINGS_KEY "Software\${APP_ID}"

Name "${APP_NAME}"
OutFile "${OUT_FILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP_ID}"
InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"
BrandingText "${APP_NAME} ${APP_VERSION}"
VIProductVersion "${APP_VERSION}.0"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "ProductVersion" "${APP_VERSION}"
VIAddVersionKey "FileVersion" "${APP_VERSION}"
VIAddVersionKey "FileDescription" "${APP_NAME} installer"
VIAddVersionKey "LegalCopyright" "desktop-search contributors"

!include "MUI2.nsh"
!include "LogicLib.nsh"

!ifdef APP_ICON
  !define MUI_ICON "${APP_ICON}"
  !define MUI_UNICON "${APP_ICON}"
!endif
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${GUI_EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP_NAME}"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "Install"
  SetShellVarContext current
  ; an older version's files go first (a one-folder bundle must not mix libraries of two builds)
  RMDir /r "$INSTDIR\_internal"
  SetOutPath "$INSTDIR"
  File /r "${SOURCE_DIR}\*.*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\${GUI_EXE}" "" "$INSTDIR\${GUI_EXE}" 0

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${APP_VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "desktop-search contributors"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${GUI_EXE}"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  SetShellVarContext current
  ; stop a running copy first, or its files cannot be removed (ignore "not running")
  nsExec::Exec 'taskkill /F /IM "${GUI_EXE}"'
  Pop $0
  nsExec::Exec 'taskkill /F /IM "${CLI_EXE}"'
  Pop $0

  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  DeleteRegValue HKCU "${RUN_KEY}" "${RUN_VALUE}"
  DeleteRegKey HKCU "${UNINST_KEY}"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${GUI_EXE}"
  Delete "$INSTDIR\${CLI_EXE}"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  ; the index is the person's work (hours of encoding): keep it unless they say otherwise;
  ; a silent uninstall (/S) keeps it too
  ${If} ${FileExists} "${DATA_DIR}\*.*"
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 \
      "Also delete your search index, downloaded model, settings and logs?$\r$\n$\r$\n${DATA_DIR}$\r$\n$\r$\nChoose No to keep them for a later reinstall." \
      /SD IDNO IDNO keep_data
      RMDir /r "${DATA_DIR}"
      DeleteRegKey HKCU "${SETTINGS_KEY}"
    keep_data:
  ${EndIf}
SectionEnd
