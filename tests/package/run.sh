#!/usr/bin/env bash
# Package test: builds the .deb (cmake -DSG_PACKAGE=ON, cpack -G DEB) and
# proves it on a fresh Debian 12 root (the container test's cached
# debootstrap tarball, unpacked anew):
#  1. the package's control fields, conffile and contents;
#  2. `dpkg -i` (which stops at the missing libraries) then
#     `apt-get -f install` from Debian's archive; `dpkg -s`; ldd resolves
#     every library of the binary and of libstreamgate.so in the root;
#  3. `systemd-analyze verify` on the installed unit, in the root (systemd
#     installed there for it), and its offline security exposure;
#  4. the unit's ExecStart, run in the root as an unprivileged user on a
#     loopback port: /healthz, www/ from /usr/share, SSE and WebSocket
#     streams, SIGHUP (the unit's ExecReload) and SIGTERM (exit 0); the
#     secure-by-default refusal on 0.0.0.0;
#  5. `dpkg --purge` removes it all, the conffile included.
# Ends with "N passed, N failed"; exits non-zero on any failure.
# Usage: bash tests/package/run.sh   (as root on Debian 12, from anywhere)
# Env: STREAMGATE_TEST_CACHE (default /var/cache/streamgate-test),
#      STREAMGATE_TEST_MIRROR (default: the host's Debian mirror).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
work=$(mktemp -d /tmp/streamgate-package.XXXXXX)
. "$root/tests/package/lib.sh"
trap cleanup EXIT
trap 'fail interrupted; exit 130' INT TERM
started=$SECONDS

[ "$(id -u)" = 0 ] || die "run as root" "debootstrap, chroot and unshare need root here"

# ---- tools: dpkg-shlibdeps for cpack's Depends, debootstrap for the root
apt_host dpkg-dev debootstrap cmake curl ca-certificates
command -v node >/dev/null 2>&1 || apt_host nodejs npm
if [ ! -f tests/integration/node_modules/ws/package.json ]; then
	(cd tests/integration && timeout 600 npm ci --no-audit --no-fund --loglevel=error) ||
		die "npm ci in tests/integration" "could not install ws"
fi

# ---- 1. the package
version=$(sed -n 's/^project(streamgate VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
deb=build-deb/streamgate_${version}_${arch}.deb
echo "== cmake -DSG_PACKAGE=ON, cpack -G DEB (log: $work/build.log)"
rm -f build-deb/*.deb
{ cmake -S . -B build-deb -DSG_PACKAGE=ON -DSG_TESTS=OFF -DSG_BENCH=OFF -DSG_WERROR=ON \
	-DCMAKE_BUILD_TYPE=Release &&
	cmake --build build-deb -j"$(nproc)" && (cd build-deb && cpack -G DEB); } >"$work/build.log" 2>&1 ||
	die "build the package" "cmake or cpack failed" "$work/build.log"
check "cpack made $deb" test -s "$deb"

field() { dpkg-deb -f "$deb" "$1"; }
expect_eq "control: Package" "$(field Package)" streamgate
expect_eq "control: Version" "$(field Version)" "$version"
expect_eq "control: Architecture" "$(field Architecture)" "$arch"
depends=$(field Depends)
for d in libwebsockets17 libwebsockets-evlib-ev libjansson4 libjwt0 libssl3 libnghttp2-14 libev4 libc6 procps; do
	check "control: Depends names $d" grep -Eq "(^|, )$d( \(|,|$)" <<<"$depends"
done
dpkg-deb -e "$deb" "$work/control"
expect_eq "control: conffiles" "$(cat "$work/control/conffiles")" /etc/streamgate/streamgate.json
expect_eq "control: shlibs" "$(cat "$work/control/shlibs")" \
	"libstreamgate 0 streamgate (= $version)"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\.||' >"$work/contents"
for f in /usr/bin/streamgate /usr/lib/$multiarch/libstreamgate.so.$version \
	/usr/lib/$multiarch/libstreamgate.so.0 /usr/lib/$multiarch/libstreamgate.so \
	/usr/lib/$multiarch/libstreamgate.a /usr/include/streamgate.h \
	/usr/include/streamgate/server.h /usr/lib/$multiarch/pkgconfig/streamgate.pc \
	/usr/lib/$multiarch/cmake/streamgate/streamgateConfig.cmake \
	/usr/share/streamgate/www/index.html /etc/streamgate/streamgate.json \
	/lib/systemd/system/streamgate.service; do
	check "contents: $f" grep -qx "$f" "$work/contents"
done

# ---- 2. install it on a fresh Debian 12
r=$work/root
echo "== a fresh Debian 12 root from $base_tar"
fresh_root "$r"
cp "$deb" "$r/tmp/streamgate.deb"
echo "== apt-get update in the root (log: $work/apt.log)"
apt_root "$r" update >"$work/apt.log" 2>&1 || die "apt-get update in the root" "failed" "$work/apt.log"
inroot "$r" dpkg -i /tmp/streamgate.deb >"$work/dpkg.log" 2>&1
expect_eq "dpkg -i on a bare root stops at the missing libraries (exit 1)" "$?" 1
echo "== apt-get -f install (log: $work/apt.log)"
apt_root "$r" -f install >>"$work/apt.log" 2>&1 || die "apt-get -f install" "failed" "$work/apt.log"
expect_eq "dpkg -s: Status" "$(inroot "$r" dpkg-query -W -f='${Status}' streamgate)" \
	"install ok installed"
expect_eq "dpkg -s: Version" "$(inroot "$r" dpkg-query -W -f='${Version}' streamgate)" "$version"
check "dpkg -s: the conffile is registered" \
	grep -q '^ /etc/streamgate/streamgate.json [0-9a-f]\{32\}$' \
	<<<"$(inroot "$r" dpkg-query -W -f='${Conffiles}\n' streamgate)"
for f in /usr/bin/streamgate "/usr/lib/$multiarch/libstreamgate.so.0"; do
	inroot "$r" ldd "$f" >"$work/ldd.out" 2>&1
	check "ldd $f: runs in the root" test "$?" = 0
	check "ldd $f: every library resolves in the root" \
		eval "! grep -q 'not found' '$work/ldd.out'"
done
# (the cache names /lib/...: on a merged-/usr system it is the same directory)
check "ldconfig knows libstreamgate.so.0 (the package's ldconfig trigger ran)" \
	grep -Eq "^	libstreamgate\.so\.0 \([^)]*\) => (/usr)?/lib/$multiarch/libstreamgate\.so\.0\$" \
	<<<"$(inroot "$r" ldconfig -p)"
check "libwebsockets' libev plugin is installed" \
	test -f "$r/usr/lib/$multiarch/libwebsockets-evlib_ev.so"
expect_eq "streamgate --version" "$(inroot "$r" /usr/bin/streamgate --version 2>&1)" \
	"streamgate $version"
expect_eq "the default config" "$(cat "$r/etc/streamgate/streamgate.json")" \
	"$(printf '{\n  "listen": "127.0.0.1:8080",\n  "www": "/usr/share/streamgate/www",\n  "examples": 0\n}')"
check "www/ is installed byte for byte" diff -r www "$r/usr/share/streamgate/www"
expect_eq "streamgate --check-config on the installed config" \
	"$(inroot "$r" /usr/bin/streamgate --check-config /etc/streamgate/streamgate.json 2>&1)" \
	"/etc/streamgate/streamgate.json: ok"

# ---- 3. the unit
echo "== systemd in the root for systemd-analyze (log: $work/apt.log)"
apt_root "$r" install systemd >>"$work/apt.log" 2>&1 || die "install systemd in the root" "failed" \
	"$work/apt.log"
unit=/lib/systemd/system/streamgate.service
inroot "$r" systemd-analyze verify "$unit" >"$work/verify.out" 2>&1
expect_eq "systemd-analyze verify $unit: exit 0" "$?" 0
expect_eq "systemd-analyze verify: says nothing" "$(cat "$work/verify.out")" ""
for line in DynamicUser=yes NoNewPrivileges=yes LimitNOFILE=65536 ProtectSystem=strict \
	Restart=on-failure 'ExecReload=/bin/kill -HUP $MAINPID' CapabilityBoundingSet= \
	ProtectHome=yes PrivateTmp=yes; do
	check "unit: $line" grep -qxF "$line" "$r$unit"
done
inroot "$r" systemd-analyze security --offline=true "$unit" >"$work/security.out" 2>&1
exposure=$(sed -n 's/^→ Overall exposure level for streamgate.service: \([0-9.]*\) .*/\1/p' \
	"$work/security.out")
check "systemd-analyze security: exposure ${exposure:-?} is at most 2.0 (\"OK\")" \
	awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'

# ---- 4. the installed gateway, as the unit starts it
mapfile -t exec_start < <(sed -n 's/^ExecStart=//p' "$r$unit" | tr ' ' '\n')
expect_eq "unit: ExecStart" "${exec_start[*]}" \
	"/usr/bin/streamgate --config /etc/streamgate/streamgate.json"
port=$(free_port)
url=http://127.0.0.1:$port
# as DynamicUser would: an unprivileged user; the port a free one
inroot_bg --userspec=65534:65534 "$r" "${exec_start[@]}" --listen "127.0.0.1:$port" \
	>"$work/gw.out" 2>"$work/gw.err"
gw=$!
track "$gw"
wait_for 30 eval "grep -q 'streamgate listening on $url' '$work/gw.out' || ! kill -0 $gw 2>/dev/null"
grep -q "streamgate listening on $url" "$work/gw.out" ||
	die "the installed gateway starts" "no listening line" "$work/gw.err"
check "gateway runs as uid 65534" grep -Eq '^Uid:[[:space:]]+65534[[:space:]]' "/proc/$gw/status"
check "GET /healthz" wait_for 10 http_is "$url/healthz" '{"status":"ok"}'
curl -sS --max-time 5 -o "$work/index.html" "$url/"
check "GET / is /usr/share/streamgate/www/index.html" cmp -s "$work/index.html" www/index.html
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$url/examples/clock")
expect_eq "the default config turns the examples off (404)" "$code" 404

curl -sS -N --max-time 30 -H 'Accept: text/event-stream' "$url/channels/news" >"$work/sse.out" 2>&1 &
sse=$!
track "$sse"
cat >"$work/ws.cjs" <<'EOF'
// ws client: prints "open", then each message, then "close CODE"
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[2]);
const timer = setTimeout(() => { console.log('timeout'); process.exit(2); }, 30000);
ws.on('open', () => console.log('open'));
ws.on('message', (data) => console.log('message ' + data.toString('utf8')));
ws.on('close', (code) => { console.log('close ' + code); clearTimeout(timer); });
ws.on('error', (e) => console.log('error ' + e.message));
EOF
NODE_PATH=$root/tests/integration/node_modules node "$work/ws.cjs" "ws://127.0.0.1:$port/channels/news" \
	>"$work/ws.out" 2>&1 &
ws=$!
track "$ws"
check "SSE subscriber gets its prelude" wait_for 10 grep -q '^: ok' "$work/sse.out"
check "WebSocket subscriber is open" wait_for 10 grep -q '^open$' "$work/ws.out"
answer=$(curl -sS --max-time 5 -d hello "$url/channels/news")
id=$(sed -n 's/^{"channel":"news","id":"\([0-9]*-[0-9]*\)","subscribers":2}$/\1/p' <<<"$answer")
check "publish reaches 2 subscribers ($answer)" test -n "$id"
check "SSE: the message" wait_for 10 grep -qx 'data: hello' "$work/sse.out"
check "WebSocket: the message" wait_for 10 grep -qx 'message hello' "$work/ws.out"

kill -HUP "$gw" # what `systemctl reload` does (ExecReload)
check "SIGHUP reloads (stderr: streamgate: reload: done)" \
	wait_for 10 grep -qx 'streamgate: reload: done' "$work/gw.err"
check "still serving after the reload" http_is "$url/healthz" '{"status":"ok"}'
kill -TERM "$gw" # what `systemctl stop` does
wait_exit 15 "$gw"
expect_eq "SIGTERM: exit 0" "$?" 0
wait_exit 10 "$ws"
expect_eq "WebSocket: closed with 1001 on SIGTERM" "$(grep -m1 '^close' "$work/ws.out")" "close 1001"
wait_exit 10 "$sse"
expect_eq "SSE: curl sees the end of the response" "$?" 0

# secure by default: opening the address without auth is refused
port2=$(free_port)
err=$(inroot --userspec=65534:65534 "$r" "${exec_start[@]}" --listen "0.0.0.0:$port2" 2>&1 >/dev/null)
expect_eq "0.0.0.0 without auth or anonymous_publish: exit 1" "$?" 1
check "... and says why" grep -q '^streamgate: listen 0.0.0.0 is not a loopback address' <<<"$err"

# ---- 5. removal
inroot "$r" dpkg --purge streamgate >"$work/purge.log" 2>&1
expect_eq "dpkg --purge streamgate: exit 0" "$?" 0
for f in /usr/bin/streamgate /etc/streamgate "$unit" /usr/share/streamgate \
	"/usr/lib/$multiarch/libstreamgate.so.0"; do
	check "purged: $f" test ! -e "$r$f"
done
check "purged: ldconfig forgot libstreamgate" \
	eval "! inroot '$r' ldconfig -p | grep -q libstreamgate"
echo "   package test took $((SECONDS - started)) s"
