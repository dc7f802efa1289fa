#!/usr/bin/env bash
# Container test: builds docker/Dockerfile with buildah and proves the image
# works, on a machine with no Docker engine and no registry access.
#  1. installs buildah, podman and debootstrap when missing;
#  2. makes the base image debian:bookworm-slim locally (debootstrap
#     --variant=minbase, slimmed like the official image, `podman import`),
#     cached in podman's storage and as a tarball under $cache_dir;
#  3. builds the image (`buildah bud --isolation chroot --pull=never --layers`);
#  4. runs its entrypoint with `buildah run --isolation chroot` (host network,
#     loopback port) and checks from outside: chunked, SSE and WebSocket
#     streams byte for byte, /healthz, www/, the HEALTHCHECK command, the
#     non-root user, SIGTERM (exit 0, streams ended), a mounted config file.
# Ends with "N passed, N failed"; exits non-zero on any failure.
# Usage: bash tests/container/run.sh   (as root on Debian 12, from anywhere)
# Env: STREAMGATE_TEST_CACHE (default /var/cache/streamgate-test),
#      STREAMGATE_TEST_MIRROR (default: the host's Debian mirror).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

base_image=docker.io/library/debian:bookworm-slim
image=localhost/streamgate:container-test
cache_dir=${STREAMGATE_TEST_CACHE:-/var/cache/streamgate-test}
base_tar=$cache_dir/debian-bookworm-slim.tar
uid=10001

passed=0
failed=0
containers=()
pids=()
work=$(mktemp -d /tmp/streamgate-container.XXXXXX)

ok() {
	echo "ok   $1"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL $1${2:+: $2}"
	failed=$((failed + 1))
}
# check NAME CMD...: one assertion
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else fail "$name"; fi
}
# die NAME DETAIL [LOG]: a step the rest depends on failed
die() {
	fail "$1" "$2"
	if [ -n "${3:-}" ] && [ -f "$3" ]; then
		echo "---- last lines of $3"
		tail -n 40 "$3"
		echo "----"
	fi
	exit 1
}
cleanup() {
	local rc=$?
	trap - EXIT
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1; done
	rm -rf --one-file-system "$work"
	[ "$failed" -gt 0 ] && rc=1
	echo "$passed passed, $failed failed"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS CMD...: polls CMD every 0.1 s; 1 on timeout
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}
# wait_exit SECONDS PID: the exit code of background job PID, 124 on timeout
wait_exit() {
	wait_for "$1" eval "! kill -0 $2 2>/dev/null" || return 124
	wait "$2"
}
# same_bytes FILE TEXT: FILE holds exactly TEXT (printf format)
same_bytes() {
	# shellcheck disable=SC2059
	cmp -s "$1" <(printf "$2")
}
# descendant PID COMM: the pid of a process named COMM under PID
descendant() {
	local d p comm q rest
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		comm=$(cat "$d/comm" 2>/dev/null) || continue
		[ "$comm" = "$2" ] || continue
		q=$p
		while [ "$q" -gt 1 ]; do
			rest=$(cat "/proc/$q/stat" 2>/dev/null) || break
			rest=${rest##*) }
			q=$(echo "$rest" | cut -d' ' -f2)
			[ "$q" = "$1" ] && echo "$p" && return 0
		done
	done
	return 1
}
free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
		console.log(s.address().port); s.close(); });'
}

# ---- 1. tools
need=()
for p in buildah podman debootstrap curl ca-certificates; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing: ${need[*]}"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 \
		apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$work/apt.log" 2>&1 ||
		die "install ${need[*]}" "apt-get failed" "$work/apt.log"
fi
if [ ! -f tests/integration/node_modules/ws/package.json ]; then
	echo "== npm packages of tests/integration (ws)"
	(cd tests/integration && timeout 600 npm ci --no-audit --no-fund --loglevel=error) ||
		die "npm ci in tests/integration" "could not install ws"
fi

# ---- 2. the base image, made locally
# host_uri SUITE: the first URI of the host's apt sources that serves SUITE
host_uri() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
		2>/dev/null | awk -v suite="$1" '
		/^[ \t]*#/ { next }
		/^deb / { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /^[a-z+]+:\/\//) {
			if ($(i + 1) == suite) { print $i; exit } ; break } }
		/^URIs:/ { uri = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && uri != "") { print uri; exit } }
		/^$/ { uri = "" }'
}
# make_base_tar: debootstrap minbase, slimmed, into $base_tar
make_base_tar() {
	local mirror security rootfs
	mirror=${STREAMGATE_TEST_MIRROR:-$(host_uri bookworm)}
	mirror=${mirror:-http://deb.debian.org/debian}
	security=$(host_uri bookworm-security)
	security=${security:-http://deb.debian.org/debian-security}
	rootfs=$work/rootfs
	echo "== debootstrap --variant=minbase bookworm from $mirror (log: $work/debootstrap.log)"
	timeout 1200 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" \
		>"$work/debootstrap.log" 2>&1 || return 1
	# what the official image has: deb822 sources with updates and security,
	# no docs, man pages or translations, no apt caches, no service starts
	rm -f "$rootfs/etc/apt/sources.list"
	cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<-EOF
		Types: deb
		URIs: $mirror
		Suites: bookworm bookworm-updates
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb
		URIs: $security
		Suites: bookworm-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<-'EOF'
		path-exclude /usr/share/doc/*
		path-include /usr/share/doc/*/copyright
		path-exclude /usr/share/groff/*
		path-exclude /usr/share/info/*
		path-exclude /usr/share/linda/*
		path-exclude /usr/share/lintian/overrides/*
		path-exclude /usr/share/locale/*
		path-exclude /usr/share/man/*
	EOF
	cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<-'EOF'
		DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		Dir::Cache::pkgcache "";
		Dir::Cache::srcpkgcache "";
	EOF
	echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
	printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
	chmod 755 "$rootfs/usr/sbin/policy-rc.d"
	find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian/overrides,locale,man}/*
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
		"$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/tmp/*
	: >"$rootfs/etc/resolv.conf"
	: >"$rootfs/etc/machine-id"
	echo localhost >"$rootfs/etc/hostname"
	mkdir -p "$cache_dir"
	tar --numeric-owner --xattrs -C "$rootfs" -cf "$base_tar.tmp" . || return 1
	mv "$base_tar.tmp" "$base_tar"
	rm -rf --one-file-system "$rootfs"
}
if podman image exists "$base_image"; then
	echo "== base image $base_image: cached in podman's storage"
else
	if [ -s "$base_tar" ]; then
		echo "== base image: importing the cached $base_tar"
	else
		make_base_tar || die "make the base image" "debootstrap or tar failed" "$work/debootstrap.log"
	fi
	timeout 600 podman import --change 'CMD ["bash"]' "$base_tar" "$base_image" \
		>"$work/import.log" 2>&1 || die "podman import" "failed" "$work/import.log"
fi
check "FROM debian:bookworm-slim resolves locally with --pull=never" \
	podman image exists debian:bookworm-slim

# ---- 3. the image
old_id=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null)
echo "== buildah bud docker/Dockerfile (log: $work/build.log)"
build_start=$SECONDS
timeout 2400 buildah bud --isolation chroot --pull=never --layers --format docker \
	-f docker/Dockerfile -t "$image" . >"$work/build.log" 2>&1 ||
	die "buildah bud docker/Dockerfile" "build failed" "$work/build.log"
echo "   built in $((SECONDS - build_start)) s"
new_id=$(podman image inspect --format '{{.Id}}' "$image")
# the previous build of this tag, now untagged; kept when a layer needs it
[ -n "$old_id" ] && [ "$old_id" != "$new_id" ] && buildah rmi "$old_id" >/dev/null 2>&1

buildah inspect --type image "$image" >"$work/inspect.json" || die "buildah inspect" "failed"
# cfg FIELD: a field of the image's Docker config, as JSON
cfg() {
	node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1])).Docker.config;
		console.log(JSON.stringify(c[process.argv[2]] ?? null));' "$work/inspect.json" "$1"
}
check "image user is $uid:$uid" test "$(cfg User)" = "\"$uid:$uid\""
check "image exposes 8080/tcp" test "$(cfg ExposedPorts)" = '{"8080/tcp":{}}'
check "image stop signal is SIGTERM" test "$(cfg StopSignal)" = '"SIGTERM"'
check "image entrypoint is the binary, exec form" \
	test "$(cfg Entrypoint)" = '["/usr/local/bin/streamgate"]'
check "image has a HEALTHCHECK" \
	test "$(cfg Healthcheck | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).Test[0])')" = CMD
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "   image size: $((size / 1000000)) MB"
mapfile -t entrypoint < <(cfg Entrypoint | node -e \
	'for (const a of JSON.parse(require("fs").readFileSync(0))) console.log(a)')
mapfile -t healthcheck < <(cfg Healthcheck | node -e \
	'for (const a of JSON.parse(require("fs").readFileSync(0)).Test.slice(1)) console.log(a)')

ctr=$(buildah from --pull=never "$image" 2>"$work/from.log") || die "buildah from" "failed" "$work/from.log"
containers+=("$ctr")
brun() { buildah run --isolation chroot "$@"; }

check "runtime image has no compiler and no headers" \
	brun "$ctr" -- sh -c '! command -v cc && ! command -v gcc && ! test -e /usr/include/libwebsockets.h'
check "the binary starts in the image (--version)" \
	test "$(brun "$ctr" -- /usr/local/bin/streamgate --version 2>&1)" = "streamgate 0.1.0"
brun "$ctr" -- cat /etc/streamgate/streamgate.json >"$work/default.json" 2>&1
check "default config is docker/streamgate.json" cmp -s "$work/default.json" docker/streamgate.json
check "default config listens on 0.0.0.0:8080" grep -q '"listen": "0.0.0.0:8080"' "$work/default.json"

# ---- 4. the gateway, run from the image
# start_gateway NAME ADDR RUN-ARGS...: runs the entrypoint in $ctr; sets
# run_pid (the buildah run job) and gw_pid (the gateway process)
start_gateway() {
	local name=$1 addr=$2
	shift 2
	brun "$@" "$ctr" -- "${entrypoint[@]}" >"$work/$name.log" 2>&1 &
	run_pid=$!
	pids+=("$run_pid")
	gw_pid=
	if ! wait_for 60 grep -q "streamgate listening on http://$addr" "$work/$name.log"; then
		die "$name: gateway starts on $addr" "no listening line in 60 s" "$work/$name.log"
	fi
	gw_pid=$(descendant "$run_pid" streamgate) ||
		die "$name: find the gateway process" "no streamgate under buildah run $run_pid"
	pids+=("$gw_pid")
	ok "$name: gateway starts on $addr (pid $gw_pid)"
}
# stop_gateway NAME: SIGTERM as `docker stop` sends it; exit 0 within 15 s
stop_gateway() {
	kill -TERM "$gw_pid"
	local rc
	wait_exit 15 "$run_pid"
	rc=$?
	check "$1: SIGTERM ends the gateway with exit 0 (got $rc)" test "$rc" = 0
}
runs_as_user() {
	grep -qE "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid\$" \
		"/proc/$gw_pid/status"
}
http_is() { # URL EXPECTED-BODY (printf format): 200 and exactly that body
	curl -sS --max-time 5 -f -o "$work/body" "$1" && same_bytes "$work/body" "$2"
}

port=$(free_port)
url=http://127.0.0.1:$port
env_args=(--env "STREAMGATE_LISTEN=127.0.0.1:$port")
start_gateway env "127.0.0.1:$port" "${env_args[@]}"
check "env: gateway runs as uid $uid, not root" runs_as_user
check "env: GET /healthz" http_is "$url/healthz" '{"status":"ok"}'
curl -sS --max-time 5 -f -o "$work/index.html" "$url/" &&
	check "env: GET / serves www/index.html from the image" cmp -s "$work/index.html" www/index.html ||
	fail "env: GET / serves www/index.html from the image" "request failed"
check "env: HEALTHCHECK command succeeds" brun "${env_args[@]}" "$ctr" -- "${healthcheck[@]}"

# three subscribers from outside the container
curl -sS -N -v --max-time 60 "$url/channels/news" >"$work/chunked.out" 2>"$work/chunked.err" &
chunked_pid=$!
pids+=("$chunked_pid")
curl -sS -N --max-time 60 -H 'Accept: text/event-stream' "$url/channels/news" \
	>"$work/sse.out" 2>"$work/sse.err" &
sse_pid=$!
pids+=("$sse_pid")
cat >"$work/ws.cjs" <<'EOF'
// ws client: writes "open", then each message, then "close CODE" to stdout
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[2]);
const timer = setTimeout(() => { console.log('timeout'); process.exit(2); }, 60000);
ws.on('open', () => console.log('open'));
ws.on('message', (data) => console.log('message ' + JSON.stringify(data.toString('utf8'))));
ws.on('close', (code) => { console.log('close ' + code); clearTimeout(timer); });
ws.on('error', (e) => console.log('error ' + e.message));
EOF
NODE_PATH=$root/tests/integration/node_modules node "$work/ws.cjs" "ws://127.0.0.1:$port/channels/news" \
	>"$work/ws.out" 2>&1 &
ws_pid=$!
pids+=("$ws_pid")
wait_for 10 grep -q '^< HTTP/1.1 200' "$work/chunked.err" || fail "chunked subscriber connects"
wait_for 10 grep -q '^: ok' "$work/sse.out" || fail "SSE subscriber connects"
wait_for 10 grep -q '^open' "$work/ws.out" || fail "WebSocket subscriber connects" "$(cat "$work/ws.out")"

answer=$(curl -sS --max-time 5 -d hello "$url/channels/news")
check "env: publish reaches 3 subscribers" \
	test "$answer" = '{"channel":"news","id":"1","subscribers":3}'
wait_for 10 same_bytes "$work/chunked.out" 'hello\n'
check "chunked: body is exactly \"hello\\\\n\"" same_bytes "$work/chunked.out" 'hello\n'
wait_for 10 same_bytes "$work/sse.out" ': ok\n\nid: 1\ndata: hello\n\n'
check "SSE: stream is exactly \": ok\\\\n\\\\nid: 1\\\\ndata: hello\\\\n\\\\n\"" \
	same_bytes "$work/sse.out" ': ok\n\nid: 1\ndata: hello\n\n'
wait_for 10 grep -q '^message' "$work/ws.out"
check "WebSocket: message is exactly \"hello\"" grep -qx 'message "hello"' "$work/ws.out"

stop_gateway env
wait_exit 10 "$chunked_pid"
rc=$?
check "chunked: curl sees the end of the response (exit $rc)" test "$rc" = 0
check "chunked: nothing after \"hello\\\\n\"" same_bytes "$work/chunked.out" 'hello\n'
wait_exit 10 "$sse_pid"
rc=$?
check "SSE: curl sees the end of the response (exit $rc)" test "$rc" = 0
check "SSE: nothing after the message" same_bytes "$work/sse.out" ': ok\n\nid: 1\ndata: hello\n\n'
wait_exit 10 "$ws_pid"
check "WebSocket: closed with 1001 on shutdown" grep -qx 'close 1001' "$work/ws.out"
if brun "${env_args[@]}" "$ctr" -- "${healthcheck[@]}" >/dev/null 2>&1; then
	fail "env: HEALTHCHECK command fails once the gateway is gone"
else
	ok "env: HEALTHCHECK command fails once the gateway is gone"
fi

# a mounted config file instead of the default one
port=$(free_port)
url=http://127.0.0.1:$port
printf '{\n  "listen": "127.0.0.1:%s",\n  "history_count": 5\n}\n' "$port" >"$work/mounted.json"
mount_args=(--volume "$work/mounted.json:/etc/streamgate/streamgate.json:ro")
start_gateway mounted "127.0.0.1:$port" "${mount_args[@]}"
check "mounted: GET /healthz" http_is "$url/healthz" '{"status":"ok"}'
check "mounted: HEALTHCHECK command finds the port in the file" \
	brun "${mount_args[@]}" "$ctr" -- "${healthcheck[@]}"
answer=$(curl -sS --max-time 5 -d hi "$url/channels/c")
check "mounted: publish" test "$answer" = '{"channel":"c","id":"1","subscribers":0}'
stop_gateway mounted
