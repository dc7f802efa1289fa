#!/usr/bin/env bash
# Sets up and runs every test: installs what is missing (Debian packages,
# npm packages, Chromium), builds with -Werror, runs the cmocka unit tests,
# the embedding tests and the integration tests against the real binary
# (on one worker, then again on two) and the hostile-client tests,
# the browser test in headless Chromium, then the unit, embedding and
# integration and hostile tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
# every libFuzzer harness of tests/fuzz for a short while (clang),
# the threading tests under ThreadSanitizer, and last the container image
# test, the Debian package test and the README quick-start test, each on a
# fresh Debian 12 root (skip all three with SG_SKIP_CONTAINER=1, one with
# SG_SKIP_PACKAGE=1 or SG_SKIP_QUICKSTART=1).
# Exits non-zero on any failure. SG_SETUP_ONLY=1 installs what is missing
# (Node 20 from npm where Debian's is older) and stops before building.
# Usage: bash tests/run.sh   (as root on Debian 12, from anywhere)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

need_pkgs=(build-essential cmake pkg-config libwebsockets-dev libjansson-dev libssl-dev
	libcap-dev libcmocka-dev libjwt-dev curl ca-certificates clang libhiredis-dev redis-server)
need_pkgs+=(libnghttp2-dev openssl) # HTTP/2 on the TLS port; the TLS tests make their CA with openssl
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
missing=()
for p in "${need_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "== installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# node --test --test-concurrency needs Node 20.10+; Debian 12 ships 18: then
# Node 20 comes from the npm registry (the `node` package, npm's global prefix)
node_new_enough() {
	node -e 'const [a, b] = process.versions.node.split(".").map(Number);
		process.exit(a > 20 || (a === 20 && b >= 10) ? 0 : 1)'
}
if ! node_new_enough; then
	echo "== Node $(node --version) is older than 20.10: npm install -g node@20"
	npm install -g --no-audit --no-fund --loglevel=error node@20 >/dev/null
	PATH="$(npm prefix -g)/bin:$PATH"
	hash -r
	node_new_enough || { echo "tests/run.sh: node is $(node --version), need 20.10+" >&2 && exit 1; }
fi

echo "== npm packages for the integration tests"
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
echo "== Chromium and npm packages for the browser test"
bash tests/browser/setup.sh
if [ "${SG_SETUP_ONLY:-0}" = 1 ]; then
	echo "== set up; SG_SETUP_ONLY=1: no tests run"
	exit 0
fi

jobs=$(nproc)
build() { # $1 build dir, $2.. extra cmake flags
	local dir=$1
	shift
	cmake -S . -B "$dir" -DSG_WERROR=ON -DSG_TESTS=ON -DSG_BENCH=OFF "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
}
integration() { # $1 build dir; each suite runs on one worker, then on two
	for workers in 1 2; do
		echo "-- integration tests, --workers $workers"
		STREAMGATE_BIN="$root/$1/streamgate" STREAMGATE_WWW="$root/www" \
			STREAMGATE_WORKERS=$workers node --test --test-concurrency=1 tests/integration/
	done
}
hostile() { # $1 build dir: the raw-socket hostile-client suite, on two workers
	echo "-- hostile-client tests"
	STREAMGATE_BIN="$root/$1/streamgate" STREAMGATE_WWW="$root/www" \
		STREAMGATE_WORKERS=2 node --test --test-concurrency=1 tests/hostile/
}

echo "== build and test (release)"
build build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo
(cd build-test && ctest --output-on-failure)
integration build-test
hostile build-test
echo "== browser test (headless Chromium)"
STREAMGATE_BIN="$root/build-test/streamgate" STREAMGATE_WWW="$root/www" \
	node --test --test-concurrency=1 tests/browser/

echo "== build and test under ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
build build-asan -DCMAKE_BUILD_TYPE=Debug -DSG_SANITIZE=ON
(cd build-asan && ctest --output-on-failure)
integration build-asan
hostile build-asan
unset ASAN_OPTIONS UBSAN_OPTIONS

echo "== fuzzing (libFuzzer, clang, ASan + UBSan; short mode)"
bash tests/fuzz/run.sh

echo "== threading tests under TSan"
build build-tsan -DCMAKE_BUILD_TYPE=Debug -DSG_TSAN=ON
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
	ctest --output-on-failure -R 'embed_threads|embed_bus|embed_reload|unit_stream_threads')

if [ "${SG_SKIP_CONTAINER:-0}" != 1 ]; then
	echo "== container image (buildah, debootstrap)"
	bash tests/container/run.sh
fi
if [ "${SG_SKIP_CONTAINER:-0}" != 1 ] && [ "${SG_SKIP_PACKAGE:-0}" != 1 ]; then
	echo "== Debian package on a fresh Debian 12 root (cpack, dpkg -i, systemd-analyze)"
	bash tests/package/run.sh
fi
if [ "${SG_SKIP_CONTAINER:-0}" != 1 ] && [ "${SG_SKIP_QUICKSTART:-0}" != 1 ]; then
	echo "== README's quick start on a fresh Debian 12 root (command 1, command 2's set-up)"
	bash tests/package/quickstart.sh
fi

echo "== all tests passed"
