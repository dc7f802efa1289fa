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
#     non-root user, SIGTERM (exit 0, streams ended), a mounted config file;
#     and the paths of docker/compose.yaml (no engine here to run it);
#  5. runs two containers of the image with the redis broker on one
#     redis-server (the host's, started on a loopback port: no image pulled),
#     the shape of compose.yaml's "redis" profile, and crosses messages:
#     published on node 1 and on node 2, received byte for byte by an SSE
#     subscriber of node 2 and a chunked one of node 1, resumed on node 1
#     with the other node's id; both nodes stop with exit 0.
# Ends with "N passed, N failed"; exits non-zero on any failure.
# Usage: bash tests/container/run.sh   (as root on Debian 12, from anywhere)
# Env: STREAMGATE_TEST_CACHE (default /var/cache/streamgate-test),
#      STREAMGATE_TEST_MIRROR (default: the host's Debian mirror).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1

base_image=docker.io/library/debian:bookworm-slim
image=localhost/streamgate:container-test
cache_dir=${STREAMGATE_TEST_CACHE:-/var/cache/streamgate-test}
base_tar=$cache_dir/debian-bookworm-slim.tar
uid=10001

containers=()
work=$(mktemp -d /tmp/streamgate-container.XXXXXX)

# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# expect_bytes NAME FILE TEXT: FILE holds exactly TEXT (printf format)
expect_bytes() {
	local got want
	got=$(cat "$2" 2>/dev/null && echo .)
	# shellcheck disable=SC2059
	want=$(printf "$3" && echo .)
	expect_eq "$1" "${got%.}" "${want%.}"
}
cleanup() {
	local rc=$? p
	trap - EXIT
	for p in "${pids[@]}"; do
		[ "$(cat "/proc/${p%%:*}/comm" 2>/dev/null)" = "${p#*:}" ] && kill "${p%%:*}"
	done
	for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1; done
	rm -rf --one-file-system "$work"
	[ "$rc" != 0 ] && [ "$failed" = 0 ] && fail "the script itself" "exit $rc"
	[ "$failed" -gt 0 ] && [ "$rc" = 0 ] && rc=1
	echo "$passed passed, $failed failed"
	exit "$rc"
}
trap cleanup EXIT
trap 'fail interrupted; exit 130' INT TERM

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

[ "$(id -u)" = 0 ] || die "run as root" "buildah, podman and debootstrap need root here"

# ---- 1. tools
need=()
for p in buildah podman debootstrap curl ca-certificates python3-yaml redis-server; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing: ${need[*]}"
	# the lock timeout: another apt run on the machine is waited for
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq \
		-o DPkg::Lock::Timeout=600 --no-install-recommends "${need[@]}"; } >"$work/apt.log" 2>&1 ||
		die "install ${need[*]}" "apt-get failed" "$work/apt.log"
fi
if [ ! -f tests/integration/node_modules/ws/package.json ]; then
	echo "== npm packages of tests/integration (ws)"
	(cd tests/integration && timeout 600 npm ci --no-audit --no-fund --loglevel=error) ||
		die "npm ci in tests/integration" "could not install ws"
fi

# one run at a time: the image tag and the caches are shared
mkdir -p "$cache_dir"
exec 9>"$cache_dir/lock"
flock -w 1800 9 || die "lock $cache_dir/lock" "another run held it for 30 min"

# ---- 2. the base image, made locally
# host_uri and make_base_tar: the cached root, shared with tests/package/run.sh
. "$root/tests/container/base.sh"
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
# bud TAG [ARGS...]: builds docker/Dockerfile, each step cached as a layer
bud() {
	local tag=$1
	shift
	timeout 2400 buildah bud --isolation chroot --pull=never --layers --force-rm --format docker \
		-f docker/Dockerfile --ignorefile docker/Dockerfile.dockerignore -t "$tag" "$@" . \
		>>"$work/build.log" 2>&1
}
echo "== buildah bud docker/Dockerfile (log: $work/build.log)"
build_start=$SECONDS
# the build stage gets a tag of its own so that its cached layers (the -dev
# packages) are not dangling and survive the prune of earlier builds below
{ bud "$image-build" --target build && bud "$image"; } ||
	die "buildah bud docker/Dockerfile" "build failed" "$work/build.log"
echo "   built in $((SECONDS - build_start)) s"
podman image prune -f --filter label=org.opencontainers.image.title=streamgate >/dev/null 2>&1

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
base_size=$(podman image inspect --format '{{.Size}}' "$base_image")
check "image is at most 20 MB over the base ($((size / 1000000)) MB, base $((base_size / 1000000)) MB)" \
	test "$size" -le $((base_size + 20000000))
# what `docker run IMAGE` runs: the entrypoint followed by CMD
mapfile -t command < <(node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1])).Docker.config;
	for (const a of [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])]) console.log(a)' "$work/inspect.json")
mapfile -t healthcheck < <(cfg Healthcheck | node -e \
	'for (const a of JSON.parse(require("fs").readFileSync(0)).Test.slice(1)) console.log(a)')

ctr=$(buildah from --pull=never "$image" 2>"$work/from.log") || die "buildah from" "failed" "$work/from.log"
containers+=("$ctr")
brun() { timeout 60 buildah run --isolation chroot "$@"; }

check "runtime image has no compiler and no headers" \
	brun "$ctr" -- sh -c '! command -v cc && ! command -v gcc && ! test -e /usr/include/libwebsockets.h'
version=$(sed -n 's/^project(streamgate VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
check "the binary starts in the image (--version is $version)" \
	test "$(brun "$ctr" -- /usr/local/bin/streamgate --version 2>&1)" = "streamgate $version"
brun "$ctr" -- cat /etc/streamgate/streamgate.json >"$work/default.json" 2>&1
check "default config is docker/streamgate.json" cmp -s "$work/default.json" docker/streamgate.json
check "default config listens on 0.0.0.0:8080" grep -q '"listen": "0.0.0.0:8080"' "$work/default.json"
check "default config lets nobody publish anonymously" grep -q '"anonymous_publish": "none"' "$work/default.json"

# compose.yaml cannot run here (no engine); its paths and port can be checked
check "compose.yaml builds docker/Dockerfile from the repository root and publishes 8080" \
	python3 - <<'EOF'
import os, yaml
gateway = yaml.safe_load(open("docker/compose.yaml"))["services"]["gateway"]
context = os.path.join("docker", gateway["build"]["context"])
assert os.path.samefile(context, ".")
assert os.path.samefile(os.path.join(context, gateway["build"]["dockerfile"]), "docker/Dockerfile")
assert any(str(p).endswith(":8080") for p in gateway["ports"])
EOF

# ---- 4. the gateway, run from the image
# start_gateway NAME ADDR RUN-ARGS...: runs the image's command in $ctr; sets
# run_pid (the buildah run job) and gw_pid (the gateway process)
start_gateway() {
	local name=$1 addr=$2
	shift 2
	# 9>&-: the gateway must not hold the lock of this run
	buildah run --isolation chroot "$@" "$ctr" -- "${command[@]}" >"$work/$name.log" 2>&1 9>&- &
	run_pid=$!
	track "$run_pid"
	gw_pid=
	wait_for 60 eval "grep -q 'streamgate listening on http://$addr' '$work/$name.log' ||
		! kill -0 $run_pid 2>/dev/null"
	grep -q "streamgate listening on http://$addr" "$work/$name.log" ||
		die "$name: gateway starts on $addr" "no listening line (exited, or 60 s passed)" "$work/$name.log"
	gw_pid=$(descendant "$run_pid" streamgate) ||
		die "$name: find the gateway process" "no streamgate under buildah run $run_pid"
	track "$gw_pid"
	ok "$name: gateway starts on $addr (pid $gw_pid)"
}
# stop_gateway NAME: SIGTERM as `docker stop` sends it; exit 0 within 15 s
stop_gateway() {
	kill -TERM "$gw_pid"
	local rc
	wait_exit 15 "$run_pid"
	rc=$?
	expect_eq "$1: SIGTERM ends the gateway with exit 0" "$rc" 0
}
runs_as_user() {
	grep -qE "^Uid:[[:space:]]+${uid}[[:space:]]+${uid}[[:space:]]+${uid}[[:space:]]+${uid}\$" \
		"/proc/$gw_pid/status"
}
http_is() { # URL EXPECTED-BODY (printf format): 200 and exactly that body
	curl -sS --max-time 5 -f -o "$work/body" "$1" && same_bytes "$work/body" "$2"
}
http_file() { # URL FILE: 200 and exactly the bytes of FILE
	curl -sS --max-time 5 -f -o "$work/body" "$1" && cmp -s "$work/body" "$2"
}
healthy() { # RUN-ARGS...: the image's HEALTHCHECK command, run as Docker would
	brun "$@" "$ctr" -- "${healthcheck[@]}" >"$work/health.out" 2>&1
}

port=$(free_port)
url=http://127.0.0.1:$port
# the default file publishes nothing anonymously (secure by default): open it
env_args=(--env "STREAMGATE_LISTEN=127.0.0.1:$port" --env "STREAMGATE_ANONYMOUS_PUBLISH=*")
start_gateway env "127.0.0.1:$port" "${env_args[@]}"
check "env: gateway runs as uid $uid, not root" runs_as_user
check "env: GET /healthz" http_is "$url/healthz" '{"status":"ok"}'
check "env: GET / serves www/index.html from the image" http_file "$url/" www/index.html
check "env: HEALTHCHECK command succeeds" healthy "${env_args[@]}"

# three subscribers from outside the container
curl -sS -N -v --max-time 60 "$url/channels/news" >"$work/chunked.out" 2>"$work/chunked.err" &
chunked_pid=$!
track "$chunked_pid"
curl -sS -N --max-time 60 -H 'Accept: text/event-stream' "$url/channels/news" \
	>"$work/sse.out" 2>"$work/sse.err" &
sse_pid=$!
track "$sse_pid"
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
track "$ws_pid"
check "chunked: subscriber gets 200" wait_for 10 grep -q '^< HTTP/1.1 200' "$work/chunked.err"
wait_for 10 grep -q '^: ok' "$work/sse.out"
expect_bytes "SSE: subscriber gets the prelude" "$work/sse.out" ': ok\n\n'
check "WebSocket: subscriber is open" wait_for 10 grep -q '^open' "$work/ws.out"

answer=$(curl -sS --max-time 5 -d hello "$url/channels/news")
# ids are MS-SEQ from the gateway's clock: take it from the answer, check its shape
id=$(printf '%s' "$answer" | sed -n 's/^{"channel":"news","id":"\([0-9]*-[0-9]*\)","subscribers":3}$/\1/p')
check "env: publish reaches 3 subscribers with an MS-SEQ id" test -n "$id"
sse_want=": ok\n\nid: $id\ndata: hello\n\n"
wait_for 10 same_bytes "$work/chunked.out" 'hello\n'
expect_bytes 'chunked: body is exactly "hello\n"' "$work/chunked.out" 'hello\n'
wait_for 10 same_bytes "$work/sse.out" "$sse_want"
expect_bytes 'SSE: stream is exactly ": ok\n\nid: ID\ndata: hello\n\n"' "$work/sse.out" "$sse_want"
wait_for 10 grep -q '^message' "$work/ws.out"
expect_eq 'WebSocket: message is exactly "hello"' "$(grep -m1 '^message' "$work/ws.out")" 'message "hello"'

stop_gateway env
# curl exits 0 only when it got the last chunk (18: the body was cut short)
wait_exit 10 "$chunked_pid"
expect_eq "chunked: curl sees the end of the response (curl's exit code)" "$?" 0
expect_bytes 'chunked: nothing after "hello\n"' "$work/chunked.out" 'hello\n'
wait_exit 10 "$sse_pid"
expect_eq "SSE: curl sees the end of the response (curl's exit code)" "$?" 0
expect_bytes "SSE: nothing after the message" "$work/sse.out" "$sse_want"
wait_exit 10 "$ws_pid"
expect_eq "WebSocket: closed with 1001 on shutdown" "$(grep -m1 '^close' "$work/ws.out")" 'close 1001'
if healthy "${env_args[@]}"; then
	fail "env: HEALTHCHECK command fails once the gateway is gone"
else
	ok "env: HEALTHCHECK command fails once the gateway is gone"
fi

# a mounted config file instead of the default one
port=$(free_port)
url=http://127.0.0.1:$port
printf '{\n  "listen": "127.0.0.1:%s"\n}\n' "$port" >"$work/mounted.json"
mount_args=(--volume "$work/mounted.json:/etc/streamgate/streamgate.json:ro")
start_gateway mounted "127.0.0.1:$port" "${mount_args[@]}"
check "mounted: GET /healthz" http_is "$url/healthz" '{"status":"ok"}'
check "mounted: HEALTHCHECK command finds the port in the file" healthy "${mount_args[@]}"
answer=$(curl -sS --max-time 5 -d hi "$url/channels/c")
check "mounted: publish" grep -Eq '^\{"channel":"c","id":"[0-9]+-[0-9]+","subscribers":0\}$' <<<"$answer"
stop_gateway mounted

# ---- 5. two nodes of the image on one Redis (the shape of compose.yaml's
# "redis" profile): the host's redis-server on a loopback port, two
# containers of the image with the redis broker; a message published on
# one node reaches a subscriber of the other, byte for byte
check "compose.yaml's redis profile: Redis and two nodes of the image with the redis broker" \
	python3 - <<'PYEOF'
import os, yaml
services = yaml.safe_load(open("docker/compose.yaml"))["services"]
assert "profiles" not in services["gateway"]
redis = services["redis"]
assert redis["profiles"] == ["redis"] and redis["image"].startswith("redis:")
assert "ports" not in redis  # only the nodes reach it
for name in ("node1", "node2"):
    node = services[name]
    assert node["profiles"] == ["redis"], name
    assert node["image"] == services["gateway"]["image"], name
    assert os.path.samefile(os.path.join("docker", node["build"]["context"], node["build"]["dockerfile"]), "docker/Dockerfile")
    env = node["environment"]
    assert env["STREAMGATE_BROKER"] == "redis", name
    assert env["STREAMGATE_REDIS_URL"] == "redis://redis:6379/0", name
    # secure by default: publishing stays closed unless the variable opens it
    assert env["STREAMGATE_ANONYMOUS_PUBLISH"] == "${STREAMGATE_ANONYMOUS_PUBLISH:-none}", name
    assert node["depends_on"]["redis"]["condition"] == "service_healthy", name
    assert any(str(p).endswith(":8080") for p in node["ports"]), name
assert services["node1"]["ports"] != services["node2"]["ports"]
PYEOF

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$work" \
	>"$work/redis.log" 2>&1 9>&- &
track "$!"
rcli() { timeout 5 redis-cli -p "$redis_port" "$@"; }
wait_for 10 eval "rcli ping 2>/dev/null | grep -q PONG" ||
	die "redis-server starts on 127.0.0.1:$redis_port" "no PONG within 10 s" "$work/redis.log"
ctr2=$(buildah from --pull=never "$image" 2>"$work/from2.log") ||
	die "buildah from (second node)" "failed" "$work/from2.log"
containers+=("$ctr2")
node_env() { # PORT: the environment of a node on 127.0.0.1:PORT
	node_args=(--env "STREAMGATE_LISTEN=127.0.0.1:$1" --env "STREAMGATE_BROKER=redis"
		--env "STREAMGATE_REDIS_URL=redis://127.0.0.1:$redis_port/0"
		--env "STREAMGATE_ANONYMOUS_PUBLISH=*")
}
port1=$(free_port)
node_env "$port1"
node1_args=("${node_args[@]}")
start_gateway node1 "127.0.0.1:$port1" "${node1_args[@]}"
node1_run=$run_pid node1_gw=$gw_pid
port2=$(free_port)
node_env "$port2"
node2_args=("${node_args[@]}")
ctr1=$ctr
ctr=$ctr2
start_gateway node2 "127.0.0.1:$port2" "${node2_args[@]}"
node2_run=$run_pid node2_gw=$gw_pid
url1=http://127.0.0.1:$port1
url2=http://127.0.0.1:$port2
check "node1: GET /healthz (Redis up)" http_is "$url1/healthz" '{"status":"ok"}'
check "node2: GET /healthz (Redis up)" http_is "$url2/healthz" '{"status":"ok"}'
check "node2: HEALTHCHECK command succeeds" healthy "${node2_args[@]}"
ctr=$ctr1
# each node (one worker) holds a command and a SUBSCRIBE connection
sub_conns() { rcli CLIENT LIST | grep -oE 'name=streamgate-[0-9]+-sub' | sort -u | wc -l; }
wait_for 10 eval '[ "$(sub_conns)" = 2 ]'
expect_eq "Redis: both nodes are connected (two streamgate-PID-sub clients)" "$(sub_conns)" 2

curl -sS -N --max-time 60 -H 'Accept: text/event-stream' "$url2/channels/cross" \
	>"$work/node2-sse.out" 2>"$work/node2-sse.err" &
node2_sse=$!
track "$node2_sse"
curl -sS -N --max-time 60 "$url1/channels/cross" >"$work/node1-chunked.out" 2>"$work/node1-chunked.err" &
node1_chunked=$!
track "$node1_chunked"
wait_for 10 grep -q '^: ok' "$work/node2-sse.out"
expect_bytes "node2: SSE subscriber gets the prelude" "$work/node2-sse.out" ': ok\n\n'
# node1's chunked subscriber: subscribed once node1 SUBSCRIBEd to the channel
check "Redis: both nodes subscribed to the channel" \
	wait_for 10 eval '[ "$(rcli PUBSUB NUMSUB sg:c:cross | tail -1)" = 2 ]'

answer1=$(curl -sS --max-time 5 -d 'hello from node1' "$url1/channels/cross")
id1=$(printf '%s' "$answer1" | sed -n 's/^{"channel":"cross","id":"\([0-9]*-[0-9]*\)","subscribers":1}$/\1/p')
check "node1: publish answered with an MS-SEQ id from Redis ($answer1)" test -n "$id1"
answer2=$(curl -sS --max-time 5 -d 'hello from node2' "$url2/channels/cross")
id2=$(printf '%s' "$answer2" | sed -n 's/^{"channel":"cross","id":"\([0-9]*-[0-9]*\)","subscribers":1}$/\1/p')
check "node2: publish answered with an MS-SEQ id from Redis ($answer2)" test -n "$id2"
cross_want=": ok\n\nid: $id1\ndata: hello from node1\n\nid: $id2\ndata: hello from node2\n\n"
wait_for 10 same_bytes "$work/node2-sse.out" "$cross_want"
expect_bytes "node2: SSE stream is exactly both messages, node1's first, with their ids" \
	"$work/node2-sse.out" "$cross_want"
wait_for 10 same_bytes "$work/node1-chunked.out" 'hello from node1\nhello from node2\n'
expect_bytes "node1: chunked body is exactly both messages" "$work/node1-chunked.out" \
	'hello from node1\nhello from node2\n'
expect_eq "Redis: the channel's stream holds the 2 messages (XLEN)" "$(rcli XLEN sg:s:cross)" 2

# a client of node2 resumes on node1 from the first id: exactly the second
# (the stream stays open: curl's --max-time ends it)
curl -sS -N --max-time 2 -H 'Accept: text/event-stream' -H "Last-Event-ID: $id1" \
	"$url1/channels/cross" -o "$work/resume.out" 2>/dev/null
expect_bytes "node1: a resume from the first id (Last-Event-ID) is exactly the second message" \
	"$work/resume.out" ": ok\n\nid: $id2\ndata: hello from node2\n\n"

gw_pid=$node1_gw run_pid=$node1_run
stop_gateway node1
wait_exit 10 "$node1_chunked"
expect_eq "node1: chunked subscriber sees the end of the response (curl's exit code)" "$?" 0
gw_pid=$node2_gw run_pid=$node2_run
stop_gateway node2
wait_exit 10 "$node2_sse"
expect_eq "node2: SSE subscriber sees the end of the response (curl's exit code)" "$?" 0
