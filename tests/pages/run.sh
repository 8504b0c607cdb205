#!/usr/bin/env bash
# Page-quality checks for a directory of .html files (or http(s) URLs of rendered pages).
#
#   tests/pages/run.sh DIR [ARTIFACT_DIR]           e.g. tests/pages/run.sh public
#   tests/pages/run.sh URL... [--artifacts DIR]     pages a running service renders
#   tests/pages/run.sh --urls FILE [ARTIFACT_DIR]   one URL per line
#
# Installs what is missing (Chromium + chromium-driver via apt, Java for vnu, the npm packages
# vnu-jar / axe-core / playwright-core from package-lock.json), then fails loudly if any tool is
# still missing: a check is never skipped. Runs the Nu HTML checker over every page and the
# browser checks in check.mjs. Exit status is non-zero if any check on any page failed; the last
# line is "pages: N passed, M failed". Screenshots, PDFs and results.json go to ARTIFACT_DIR
# (default tests/artifacts/pages, which is gitignored).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

fail() {
  echo "pages: ERROR: $*" >&2
  echo "pages: 0 passed, 1 failed"
  exit 2
}

[ $# -ge 1 ] || fail "usage: $0 DIR|URL|--urls FILE [ARTIFACT_DIR]"

# ---------------------------------------------------------------- arguments
targets=()
artifacts="$REPO/tests/artifacts/pages"
passthru=()
while [ $# -gt 0 ]; do
  case "$1" in
    --artifacts) artifacts="$2"; shift 2 ;;
    --urls) targets+=(--urls "$2"); shift 2 ;;
    --json|--canonical|--jobs|--cookies|--allow-origin) passthru+=("$1" "$2"); shift 2 ;;
    http://*|https://*) targets+=("$1"); shift ;;
    *)
      if [ ${#targets[@]} -eq 0 ]; then
        [ -d "$1" ] || fail "$1 is not a directory (has the site been built? run mdz build first)"
        targets+=("$1")
      else
        artifacts="$1"
      fi
      shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || fail "no directory or URL to check"

# ---------------------------------------------------------------- install what is missing
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# apt-get update runs only when installing from the current package lists fails.
apt_install() {
  command -v apt-get >/dev/null || fail "need to install $* but apt-get is not available"
  echo "pages: apt-get install $*" >&2
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >&2; then
    echo "pages: apt-get update" >&2
    $SUDO apt-get update -qq >&2 || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >&2 \
      || fail "apt-get install $* failed"
  fi
}

pkgs=()
# Chromium's fonts are only Recommends; without any font every glyph is a box in the screenshots.
[ -x /usr/bin/chromium ] || pkgs+=(chromium fonts-liberation fonts-dejavu-core)
command -v chromedriver >/dev/null || pkgs+=(chromium-driver)
command -v java >/dev/null || pkgs+=(default-jre-headless)
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
if ! command -v fc-list >/dev/null || [ -z "$(fc-list 2>/dev/null | head -n1)" ]; then
  pkgs+=(fontconfig fonts-liberation fonts-dejavu-core)
fi
if [ ${#pkgs[@]} -gt 0 ]; then apt_install $(printf '%s\n' "${pkgs[@]}" | sort -u); fi

if [ ! -f "$HERE/node_modules/vnu-jar/build/dist/vnu.jar" ] || [ ! -f "$HERE/node_modules/axe-core/axe.min.js" ] \
   || [ ! -f "$HERE/node_modules/playwright-core/package.json" ]; then
  echo "pages: npm ci --ignore-scripts (vnu-jar, axe-core, playwright-core)" >&2
  # --ignore-scripts: playwright-core must not download a browser; Debian's Chromium is used.
  (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund >&2) \
    || (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --ignore-scripts --no-audit --no-fund >&2) \
    || fail "npm could not install the page-check packages"
fi

# ---------------------------------------------------------------- nothing may be missing now
[ -x /usr/bin/chromium ] || fail "Chromium is missing (/usr/bin/chromium)"
command -v chromedriver >/dev/null || fail "chromium-driver is missing"
command -v java >/dev/null || fail "java is missing (vnu.jar needs Java 11+)"
java -version >/dev/null 2>&1 || fail "java does not run"
command -v node >/dev/null || fail "node is missing"
[ -f "$HERE/node_modules/vnu-jar/build/dist/vnu.jar" ] || fail "vnu.jar is missing"
[ -f "$HERE/node_modules/axe-core/axe.min.js" ] || fail "axe-core is missing"
[ -f "$HERE/node_modules/playwright-core/package.json" ] || fail "playwright-core is missing"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || fail "node $(node --version) is too old: playwright-core needs node 20+"

exec node "$HERE/check.mjs" --artifacts "$artifacts" "${passthru[@]}" "${targets[@]}"
