#!/usr/bin/env bash
# `npm ci`, unless node_modules was installed by it from this very package-lock.json with this
# Node (a stamp in node_modules says so): running scripts/setup.sh again then takes a moment
# instead of a full reinstall. A changed lockfile, another Node, or no stamp reinstalls.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

stamp=node_modules/.installed-from-lockfile
want="$(sha256sum package-lock.json | cut -d' ' -f1) node $(node --version)"
if [[ -f $stamp && "$(<"$stamp")" == "$want" ]]; then
  echo "setup: node_modules matches package-lock.json (npm ci skipped)"
  exit 0
fi

echo "setup: installing npm dependencies (npm ci)"
log=$(mktemp "${TMPDIR:-/tmp}/execnet-npm-ci.XXXXXX")
trap 'rm -f "$log"' EXIT
if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
  echo "setup: 'npm ci' failed; its output:" >&2
  cat "$log" >&2
  exit 1
fi
mkdir -p node_modules
printf '%s\n' "$want" >"$stamp"
