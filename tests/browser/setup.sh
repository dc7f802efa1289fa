#!/usr/bin/env bash
# Installs what the browser tests need, when it is missing: Debian's
# chromium (with fonts-liberation, so pages render text the same way
# everywhere) through apt, and playwright-core from package-lock.json
# through npm ci. Run as root on Debian 12; safe to run again.
# Usage: bash tests/browser/setup.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg-query -W -f='${Status}' fonts-liberation 2>/dev/null | grep -q "install ok installed" || need+=(fonts-liberation)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing for the browser tests: ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then
	echo "setup.sh: /usr/bin/chromium is still missing after installing chromium" >&2
	exit 1
fi

echo "== npm packages for the browser tests"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
