#!/usr/bin/env bash
# Sets up and runs every test: installs what is missing (Debian packages,
# npm packages), builds with -Werror, runs the cmocka unit tests and the
# integration tests against the real binary, then does it all again under
# AddressSanitizer + UndefinedBehaviorSanitizer. Exits non-zero on any
# failure. Usage: bash tests/run.sh   (as root on Debian 12, from anywhere)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

need_pkgs=(build-essential cmake pkg-config libwebsockets-dev libjansson-dev libssl-dev
	libcap-dev libcmocka-dev curl ca-certificates)
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs npm)
missing=()
for p in "${need_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "== installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== npm packages for the integration tests"
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)

jobs=$(nproc)
run_suite() { # $1 build dir, $2.. extra cmake flags
	local dir=$1
	shift
	cmake -S . -B "$dir" -DSG_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
	(cd "$dir" && ctest --output-on-failure)
	STREAMGATE_BIN="$root/$dir/streamgate" STREAMGATE_WWW="$root/www" \
		node --test --test-concurrency=1 tests/integration/
}

echo "== build and test (release)"
run_suite build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo

echo "== build and test under ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions="$root/tests/lsan.supp"
run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DSG_SANITIZE=ON

echo "== all tests passed"
