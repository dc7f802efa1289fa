#!/usr/bin/env bash
# Quick-start test: the two commands of README "Quick start", as a new user
# runs them, on a fresh Debian 12 root (the container test's cached
# debootstrap tarball, unpacked anew) holding a copy of this checkout:
#  1. command 1 (apt-get the build packages, cmake, start ./build/streamgate)
#     until /healthz answers; the host's port 8080 may be taken, so the
#     gateway gets a free loopback port through STREAMGATE_LISTEN (the
#     command itself is run as written); then SIGTERM, exit 0;
#  2. the set-up part of command 2 (`bash tests/run.sh` with
#     SG_SETUP_ONLY=1: Debian packages, Node 20 from npm in place of
#     Debian's 18, the npm packages, Chromium), then one integration file
#     with the README's node --test command, against command 1's binary.
# Slow (a few minutes: the packages come from Debian's archive and npm).
# Ends with "N passed, N failed"; exits non-zero on any failure.
# Usage: bash tests/package/quickstart.sh   (as root on Debian 12)
# Env: STREAMGATE_TEST_CACHE, STREAMGATE_TEST_MIRROR (as tests/package/run.sh).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
work=$(mktemp -d /tmp/streamgate-quickstart.XXXXXX)
. "$root/tests/package/lib.sh"
trap cleanup EXIT
trap 'fail interrupted; exit 130' INT TERM
started=$SECONDS
integration_file=tests/integration/all-transports.test.mjs

[ "$(id -u)" = 0 ] || die "run as root" "debootstrap, chroot and unshare need root here"
apt_host debootstrap curl ca-certificates

# the two commands: the first line after "# 1." and after "# 2." in the
# Quick start section's code block
quickstart() {
	awk -v n="$1" '
		/^## / { section = ($0 == "## Quick start") }
		section && /^```/ { block = !block; next }
		section && block && $0 ~ "^# " n "\\. " { want = 1; next }
		section && block && want && !/^#/ && NF { print; exit }' README.md
}
cmd1=$(quickstart 1)
cmd2=$(quickstart 2)
check "README: command 1 builds and starts ./build/streamgate" \
	grep -q '^apt-get update && apt-get install -y .*cmake --build build .*&& ./build/streamgate$' <<<"$cmd1"
expect_eq "README: command 2" "$cmd2" "bash tests/run.sh"

# ---- a fresh root with a copy of the checkout (what git tracks, and new
# files it does not ignore: no build directories, no node_modules)
r=$work/root
src=/root/streamgate
echo "== a fresh Debian 12 root from $base_tar, the checkout in $src"
fresh_root "$r"
mkdir -p "$r$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$r$src"
else
	tar --exclude='./build*' --exclude=node_modules -cf - . | tar -xf - -C "$r$src"
fi
check "the copy holds README.md and tests/run.sh" test -f "$r$src/README.md" -a -f "$r$src/tests/run.sh"

# ---- command 1
port=$(free_port)
url=http://127.0.0.1:$port
echo "== command 1 in the root (log: $work/cmd1.log)"
t1=$SECONDS
inroot_bg "$r" env HOME=/root STREAMGATE_LISTEN="127.0.0.1:$port" sh -c "cd $src && $cmd1" \
	>"$work/cmd1.log" 2>&1
sh_pid=$!
track "$sh_pid"
# apt-get, then the build, then the gateway: bounded at 30 minutes
wait_for 1800 eval "http_is '$url/healthz' '{\"status\":\"ok\"}' || ! kill -0 $sh_pid 2>/dev/null"
check "command 1: GET /healthz answers (after $((SECONDS - t1)) s)" \
	http_is "$url/healthz" '{"status":"ok"}' || die "command 1" "no /healthz" "$work/cmd1.log"
check "command 1: the gateway says where it listens" \
	grep -qx "streamgate listening on $url" "$work/cmd1.log"
curl -sS --max-time 5 -o "$work/index.html" "$url/"
check "command 1: GET / serves the checkout's www/index.html" cmp -s "$work/index.html" www/index.html
answer=$(curl -sS --max-time 5 -d hello "$url/channels/news")
check "command 1: a publish is answered ($answer)" \
	grep -Eq '^\{"channel":"news","id":"[0-9]+-[0-9]+","subscribers":0\}$' <<<"$answer"
gw=
for p in $(in_root "$r"); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = streamgate ] && gw=$p
done
check "command 1: the gateway runs in the root" test -n "$gw"
[ -n "$gw" ] && kill -TERM "$gw"
wait_exit 15 "$sh_pid"
expect_eq "command 1: SIGTERM ends it, exit 0" "$?" 0

# ---- command 2, its set-up part, then one integration file
echo "== command 2 with SG_SETUP_ONLY=1 in the root (log: $work/cmd2.log)"
t2=$SECONDS
inroot_bg "$r" env HOME=/root SG_SETUP_ONLY=1 sh -c "cd $src && $cmd2" >"$work/cmd2.log" 2>&1
setup_pid=$!
track "$setup_pid"
wait_exit 1800 "$setup_pid" # bounded at 30 minutes
rc=$?
expect_eq "command 2 (set-up part): exit 0 (after $((SECONDS - t2)) s)" "$rc" 0
[ "$rc" = 0 ] || die "command 2's set-up" "failed" "$work/cmd2.log"
check "command 2: stops after the set-up" grep -qx '== set up; SG_SETUP_ONLY=1: no tests run' "$work/cmd2.log"
check "command 2: Debian's Node 18 was replaced by Node 20 from npm" \
	grep -q '^== Node v18\.[0-9.]* is older than 20.10: npm install -g node@20$' "$work/cmd2.log"
node_version=$(inroot "$r" node --version)
check "node in the root is 20.10 or later ($node_version)" \
	grep -Eq '^v(20\.(1[0-9]|[2-9][0-9])|2[1-9]|[3-9][0-9])' <<<"$node_version"
echo "== $integration_file in the root (log: $work/node.log)"
inroot "$r" env HOME=/root sh -c "cd $src && STREAMGATE_BIN=$src/build/streamgate STREAMGATE_WWW=$src/www \
	timeout 300 node --test --test-concurrency=1 $integration_file" >"$work/node.log" 2>&1
rc=$?
expect_eq "node --test --test-concurrency=1 $integration_file: exit 0" "$rc" 0
check "... with every test passed" grep -qx '# fail 0' "$work/node.log"
check "... and some run" grep -Eqx '# pass [1-9][0-9]*' "$work/node.log"
[ "$rc" = 0 ] || tail -n 30 "$work/node.log"
echo "   quick-start test took $((SECONDS - started)) s"
