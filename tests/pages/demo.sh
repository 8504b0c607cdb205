#!/usr/bin/env bash
# The demo as a newcomer sees it: starts the real `mdz-callback demo` (a free port, the repo's
# config.toml and built public/), walks it in headless Chromium (demo-walk.mjs: sign-in, the
# simulated consent, the operator page, an upload into the simulated inbox, the simulated app
# and inbox pages, a site page, the used sign-in link), photographs every page at 1280 and
# 390 px in light and dark, then runs the page checks (vnu, axe, …) on the same pages with the
# same session.
#
#   tests/pages/demo.sh [MDZ_CALLBACK_BINARY] [ARTIFACT_DIR]
#
# Defaults: target/debug/mdz-callback (under CARGO_TARGET_DIR if set) and
# tests/artifacts/pages/demo (gitignored). Tools are installed as run.sh does.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$REPO/target}/debug/mdz-callback}"
artifacts="${2:-$REPO/tests/artifacts/pages/demo}"
[ -x "$bin" ] || { echo "demo: $bin is not built (cargo build -p mdz-callback)" >&2; exit 2; }
[ -f "$REPO/public/index.html" ] || { echo "demo: public/ is not built (cargo run -p mdz -- build)" >&2; exit 2; }
rm -rf "$artifacts"
mkdir -p "$artifacts"

log="$artifacts/demo.log"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$REPO" && exec "$bin" demo --port "$port" --config config.toml) >"$log" 2>&1 &
demo_pid=$!
trap 'kill "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true' EXIT

# The demo prints its addresses once it is ready.
for _ in $(seq 1 100); do
  grep -q '/sim/app$' "$log" 2>/dev/null && break
  kill -0 "$demo_pid" 2>/dev/null || { cat "$log" >&2; echo "demo: the demo exited" >&2; exit 1; }
  sleep 0.1
done
origin=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/auth/tiktok/start' "$log" | head -n1 | sed 's|/auth/tiktok/start||')
sim=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/sim/app' "$log" | head -n1 | sed 's|/sim/app||')
[ -n "$origin" ] && [ -n "$sim" ] || { cat "$log" >&2; echo "demo: no addresses in the demo's output" >&2; exit 1; }

node "$HERE/demo-walk.mjs" --origin "$origin" --sim "$sim" --out "$artifacts/shots"
bash "$HERE/run.sh" --urls "$artifacts/shots/urls.txt" --cookies "$artifacts/shots/cookies.json" \
  --allow-origin "$sim" --canonical optional --artifacts "$artifacts/checks"
