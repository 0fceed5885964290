#!/usr/bin/env bash
# Screenshots of the built docs site's key pages in headless Chromium (Debian: apt-get install chromium).
#   docs/screenshots.sh [SITE_DIR] [OUT_DIR]     defaults: site  docs/screenshots (git-ignored)
# Build the site first: mkdocs build --strict (or make docs).
set -euo pipefail
SITE=$(realpath "${1:-site}")
OUT=$(realpath -m "${2:-docs/screenshots}")
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome)}
mkdir -p "$OUT"
PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT
declare -A PAGES=(
  [home]=index.html
  [schedules]=schedules/index.html
  [gallery]=gallery/index.html
  [api]=api/lrkit/index.html
  [api-torch]=api/lrkit.torch/index.html
  [bench]=bench/index.html
  [findings]=findings/index.html
)
for name in "${!PAGES[@]}"; do
  page="$SITE/${PAGES[$name]}"
  [ -f "$page" ] || { echo "missing $page" >&2; exit 1; }
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$PROFILE" --window-size=1280,1600 --virtual-time-budget=3000 \
    --screenshot="$OUT/$name.png" "file://$page" 2>/dev/null
  echo "$OUT/$name.png"
done
