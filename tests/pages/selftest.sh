#!/usr/bin/env bash
# Proves the page checker can fail: the good fixtures (the real base layout's structure with the
# current templates/style.css inlined) must pass every check, and every page in fixtures/bad/
# must fail exactly the checks named in its first line, `<!-- expect-fail: RULE... | why -->`,
# and nothing else (so each bad page proves one rule, and the rest of the page stays clean).
#
#   tests/pages/selftest.sh [ARTIFACT_DIR]     default tests/artifacts/pages-selftest
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
ART="${1:-$REPO/tests/artifacts/pages-selftest}"
STYLE="$REPO/templates/style.css"
[ -f "$STYLE" ] || { echo "selftest: $STYLE is missing" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Copy a fixture tree, putting the real stylesheet where the /*STYLE*/ placeholder is.
build() { # SRC DEST
  node - "$1" "$2" "$STYLE" <<'EOF'
const fs = require('fs'), path = require('path');
const [src, dest, styleFile] = process.argv.slice(2);
const css = fs.readFileSync(styleFile, 'utf8').trim();
(function copy(s, d) {
  fs.mkdirSync(d, { recursive: true });
  for (const e of fs.readdirSync(s, { withFileTypes: true })) {
    const sp = path.join(s, e.name), dp = path.join(d, e.name);
    if (e.isDirectory()) copy(sp, dp);
    else fs.writeFileSync(dp, fs.readFileSync(sp, 'utf8').split('/*STYLE*/').join(css));
  }
})(src, dest);
EOF
}
build "$HERE/fixtures/good" "$work/good"
build "$HERE/fixtures/bad" "$work/bad"
rm -rf "$ART"
mkdir -p "$ART"

status=0

echo "selftest: good fixtures must pass every check"
set +e
"$HERE/run.sh" "$work/good" --artifacts "$ART/good" --json "$work/good.json" > "$ART/good.log" 2>&1
rc=$?
set -e
tail -n 1 "$ART/good.log"
if [ $rc -ne 0 ]; then
  echo "selftest: FAIL: the good fixtures did not pass (exit $rc):" >&2
  grep -E '^(FAIL|pages: ERROR)|^       ' "$ART/good.log" >&2 || cat "$ART/good.log" >&2
  status=1
fi

echo "selftest: each bad fixture must fail exactly its rule"
set +e
"$HERE/run.sh" "$work/bad" --artifacts "$ART/bad" --json "$work/bad.json" > "$ART/bad.log" 2>&1
rc=$?
set -e
# The checker's own count line ("pages: N passed, M failed") reads like a failure here: these
# failures are the point, so say so instead of repeating it.
sed -n 's/^pages: \([0-9]*\) passed, \([0-9]*\) failed$/selftest: \2 deliberate failures (expected) and \1 passes on the broken fixtures/p' "$ART/bad.log" | tail -n 1
if [ $rc -eq 0 ]; then
  echo "selftest: FAIL: the checker exited 0 on the bad fixtures" >&2
  status=1
fi
if [ ! -s "$work/bad.json" ]; then
  echo "selftest: FAIL: the checker wrote no results for the bad fixtures:" >&2
  cat "$ART/bad.log" >&2
  exit 1
fi

node - "$HERE/fixtures/bad" "$work/bad.json" <<'EOF' || status=1
const fs = require('fs'), path = require('path');
const [dir, resultsFile] = process.argv.slice(2);
const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
let bad = 0, n = 0;
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.html')).sort()) {
  n++;
  const name = f.replace(/\.html$/, '');
  const m = fs.readFileSync(path.join(dir, f), 'utf8').match(/^<!-- expect-fail: (.*?) \| (.*?) -->/);
  if (!m) { console.log(`  FAIL ${f}: no "<!-- expect-fail: RULE | why -->" first line`); bad++; continue; }
  const want = m[1].trim().split(/\s+/).sort();
  const r = results[name];
  if (!r) { console.log(`  FAIL ${f}: not in the checker's results`); bad++; continue; }
  const got = Object.entries(r.checks).filter(([, v]) => !v.ok).map(([k]) => k).sort();
  const missing = want.filter((w) => !got.includes(w));
  const extra = got.filter((g) => !want.includes(g));
  if (!missing.length && !extra.length) {
    const why = want.map((w) => r.checks[w].detail.split('\n')[0].slice(0, 110)).join(' | ');
    console.log(`  ok   ${name}: fails ${want.join(', ')} (${m[2]}) — ${why}`);
  } else {
    bad++;
    console.log(`  FAIL ${name}: expected to fail [${want.join(', ')}], failed [${got.join(', ')}]`);
    for (const k of [...missing, ...extra]) console.log(`         ${k}: ${(r.checks[k].detail || '(passed)').split('\n')[0]}`);
  }
}
console.log(`selftest: ${n - bad} of ${n} bad fixtures fail exactly their rule`);
process.exit(bad ? 1 : 0);
EOF

if [ $status -eq 0 ]; then
  echo "selftest: passed (artifacts in $ART)"
else
  echo "selftest: FAILED — the page checker cannot be trusted (full logs: $ART/good.log, $ART/bad.log)" >&2
fi
exit $status
