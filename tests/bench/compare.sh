#!/usr/bin/env bash
# compare.sh — streamgate side by side with nchan and Pushpin on 127.0.0.1,
# the scenarios S1–S5 of PEERS.md (and S4W, S4 over WebSocket), one
# markdown table at the end with streamgate's ratio to each peer.
# streamgate runs every scenario twice: with its default settings and with
# --max-connections 19900 (nchan's worker_connections), below the open-file
# limit. Every server gets a fresh start for each scenario (so one
# scenario's freed memory does not flatter the next) and is stopped by its
# PID; nothing listens beyond loopback; every wait is bounded. It reports
# numbers, syscalls per delivery among them, and never fails on them.
#
#   tests/bench/compare.sh [--quick] [--only streamgate|nchan|pushpin]...
#       [--scenarios S1,S2,...] [--limits default,set] [--server-arg ARG]...
#       [--nchan-workers N] [--threads N] [--streamgate BIN] [--loadgen BIN]
#       [--out DIR] [--wait-quiet SECONDS] [--no-install] [--no-perf]
#       [--subscribers-scale F]
#
# nchan (nginx + libnginx-mod-nchan) and Pushpin (pushpin, with node for
# its tiny backend) are installed from Debian with apt-get when missing,
# and so is perf (linux-perf), which counts the servers' syscalls when run
# as root (--no-perf: only /proc's read/write counts).
#
# R1–R4 (run only when named, e.g. --scenarios R1,R2,R3,R4 --only
# streamgate --only nchan --limits default) are the scale-out scenarios:
# two nodes on one redis-server (started by this script on a loopback
# port, no persistence), publishing on node A, subscribers alternating
# between A and B. streamgate: two processes with --broker redis; nchan:
# two nginx instances (each a master and --nchan-workers workers) with
# nchan_redis_pass to an upstream on the same Redis. CPU, RSS and
# syscalls count both nodes and redis-server (the three run under one
# parent shell, sampled with its descendants); the Redis commands per
# publish and per delivery come from INFO commandstats before and after
# the load generator.
# R5 and R5W (also run only when named) are R2 with a replica
# redis-server (replicaof the primary, counted with the rest), streamgate
# with redis_wait_replicas 0 (R5) and 1 (R5W, streamgate only): the table
# puts each metric's two rows together, publish answer times among them.
#
# U1–U3 (run only when named: --scenarios U1,U2,U3 --only streamgate
# --only pushpin --limits default) are upstream mode: both gateways proxy
# one node backend (upstream-backend.js), 1,000 streams at 50 messages/s
# each, and the headline is the gateway's CPU-microseconds per delivered
# message. U1: plain proxy of a chunked NDJSON stream (GET /u/ID); U2: GRIP
# hold-stream (GET /g/ID, the backend publishes to ch-ID with POST
# /publish/ on each gateway: Pushpin's control port, streamgate's
# grip_publish_listen); U3: U1 with streamgate "durable": true (Pushpin
# has no such mode). The backend's CPU is reported apart, never counted.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

quick=0
only=()
scenarios="S1,S2,S3,S4,S4W,S5"
limits="default,set"
sg_max_connections=19900 # nchan's worker_connections
perf=1
sg_args=()
nchan_workers=1
threads=1
pub_conns=16
drain=5
bench_build="$root/build-bench" # Release build of both, made when needed
sg_bin=""
loadgen=""
out=""
install=1
wait_quiet=0
subs_scale=1

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; drain=3 ;;
	--only) only+=("${2:?--only needs a name}"); shift ;;
	--scenarios) scenarios="${2:?}"; shift ;;
	--limits) limits="${2:?}"; shift ;;
	--no-perf) perf=0 ;;
	--server-arg) sg_args+=("${2?}"); shift ;;
	--nchan-workers) nchan_workers="${2:?}"; shift ;;
	--threads) threads="${2:?}"; shift ;;
	--streamgate) sg_bin="${2:?}"; shift ;;
	--loadgen) loadgen="${2:?}"; shift ;;
	--out) out="${2:?}"; shift ;;
	--no-install) install=0 ;;
	--wait-quiet) wait_quiet="${2:?}"; shift ;;
	--subscribers-scale) subs_scale="${2:?}"; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "compare.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

targets=()
for t in streamgate nchan pushpin; do
	if [ ${#only[@]} -eq 0 ] || [[ " ${only[*]} " == *" $t "* ]]; then targets+=("$t"); fi
done
[ ${#targets[@]} -gt 0 ] || { echo "compare.sh: --only takes streamgate, nchan or pushpin" >&2; exit 2; }
for l in ${limits//,/ }; do
	case "$l" in default | set) ;; *) echo "compare.sh: --limits takes default and/or set" >&2; exit 2 ;; esac
done
[ -n "${limits//,/}" ] || { echo "compare.sh: --limits needs default, set or both" >&2; exit 2; }

log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- scenarios: name transport subs channels messages rate settle max-time ----
# Full mode is PEERS.md's; S4W is S4 over WebSocket. S6 and S7 (run only
# when named) offer 1M deliveries/s, more than one core serves: they
# measure capacity, as scaling.sh does with 1 and 2 workers. --quick
# (about 5 minutes for all three servers and both streamgate set-ups)
# halves the subscribers of S2–S5 (S4, S4W: 10,000) and doubles S2/S3's
# rate, so the offered load (deliveries/s asked of the server) stays the
# same, and publishes fewer messages; its rows are labelled with their own
# sizes.
scenario_base() {
	if [ "$quick" = 1 ]; then
		case "$1" in
		S1) echo "sse 1000 1 100 100 0.5 25" ;;
		S2) echo "sse 5000 1 60 40 0.5 25" ;;
		S3) echo "ws 5000 1 60 40 0.5 25" ;;
		S4) echo "sse 10000 1 0 1 1 30" ;;
		S4W) echo "ws 10000 1 0 1 1 30" ;;
		S5) echo "sse 5000 500 200 100 0.5 25" ;;
		S6) echo "sse 5000 1 300 200 0.5 45" ;;
		S7) echo "ws 5000 1 300 200 0.5 45" ;;
		R1) echo "sse 1000 1 100 100 0.5 25" ;;
		R2) echo "sse 5000 1 60 40 0.5 25" ;;
		R3) echo "ws 5000 1 60 40 0.5 25" ;;
		R4) echo "sse 10000 1 0 1 1 30" ;;
		U1 | U2 | U3) echo "chunked 500 1 250 50 0.5 30" ;;
		R5 | R5W) echo "sse 5000 1 60 40 0.5 25" ;;
		esac
	else
		case "$1" in
		S1) echo "sse 1000 1 200 100 1 60" ;;
		S2) echo "sse 10000 1 100 20 1 120" ;;
		S3) echo "ws 10000 1 100 20 1 120" ;;
		S4) echo "sse 19000 1 0 1 3 90" ;;
		S4W) echo "ws 19000 1 0 1 3 90" ;;
		S5) echo "sse 10000 1000 1000 100 1 90" ;;
		S6) echo "sse 10000 1 150 100 1 90" ;;
		S7) echo "ws 10000 1 150 100 1 90" ;;
		R1) echo "sse 1000 1 200 100 1 60" ;;
		R2) echo "sse 10000 1 100 20 1 120" ;;
		R3) echo "ws 10000 1 100 20 1 120" ;;
		R4) echo "sse 19000 1 0 1 3 90" ;;
		U1 | U2 | U3) echo "chunked 1000 1 1000 50 1 60" ;;
		R5 | R5W) echo "sse 10000 1 100 20 1 120" ;;
		esac
	fi
}
# --subscribers-scale F multiplies every scenario's subscribers (scaling.sh
# --per-worker: one worker with half as many subscribers as two workers).
scenario_params() {
	local tr subs rest
	read -r tr subs rest <<<"$(scenario_base "$1")"
	[ -n "$tr" ] || return 0
	echo "$tr $(awk -v n="$subs" -v f="$subs_scale" 'BEGIN { printf "%d", n * f + 0.5 }') $rest"
}
# Upstream mode (U*): messages are per stream, rate is each stream's, and
# subscriber i GETs this path from the gateway, which proxies it to the
# backend: /u/ID a plain chunked NDJSON stream, /g/ID a GRIP hold-stream
upstream_path() {
	case "$1" in
	U1 | U3) echo "/u/%d" ;;
	U2) echo "/g/%d" ;;
	esac
}

# ---- the tools ----
# Unless given, both binaries come from an optimised build of this tree
# in build-bench/ (incremental: a no-op when nothing changed).
if [ -z "$sg_bin" ] || [ -z "$loadgen" ]; then
	log "building streamgate and sg-loadgen (Release) in $bench_build"
	if [ ! -f "$bench_build/CMakeCache.txt" ]; then
		cmake -S "$root" -B "$bench_build" -DCMAKE_BUILD_TYPE=Release -DSG_TESTS=OFF -DSG_BENCH=ON >&2
	fi
	cmake --build "$bench_build" -j "$(nproc)" --target streamgate sg-loadgen >&2
	sg_bin="${sg_bin:-$bench_build/streamgate}"
	loadgen="${loadgen:-$bench_build/tests/bench/sg-loadgen}"
fi
[ -x "$loadgen" ] || { echo "compare.sh: no load generator at $loadgen" >&2; exit 1; }
sg_build="unknown build"
if [[ " ${targets[*]} " == *" streamgate "* ]]; then
	if [ ! -x "$sg_bin" ]; then
		echo "compare.sh: no streamgate binary at $sg_bin" >&2
		exit 1
	fi
	cache="$(dirname "$sg_bin")/CMakeCache.txt"
	if [ -f "$cache" ]; then
		sg_build=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$cache")
		sg_build="${sg_build:-no CMAKE_BUILD_TYPE} build"
		case "$sg_build" in
		Release* | RelWithDebInfo*) ;;
		*) log "warning: $sg_bin is a $sg_build (not optimised); configure with -DCMAKE_BUILD_TYPE=Release for numbers worth quoting" ;;
		esac
	fi
fi

apt_install() {
	[ "$install" = 1 ] || return 1
	if [ "$(id -u)" != 0 ]; then
		log "not root: cannot apt-get install $*"
		return 1
	fi
	log "installing $* from Debian"
	# the packages' own services must not start: policy-rc.d denies them in
	# containers; elsewhere they are stopped by the package's init script,
	# which this script never touches
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2 ||
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2; }
}

nchan_module=/usr/lib/nginx/modules/ngx_nchan_module.so
peer_ok() {
	case "$1" in
	streamgate) return 0 ;;
	nchan)
		{ command -v nginx >/dev/null && [ -f "$nchan_module" ]; } || apt_install nginx libnginx-mod-nchan || true
		command -v nginx >/dev/null && [ -f "$nchan_module" ] ;;
	pushpin)
		command -v pushpin >/dev/null || apt_install pushpin || true
		command -v node >/dev/null || apt_install nodejs || true
		command -v pushpin >/dev/null && command -v node >/dev/null ;;
	esac
}
runnable=()
for t in "${targets[@]}"; do
	if peer_ok "$t"; then runnable+=("$t"); else log "skipping $t: not installed"; fi
done

# What runs: streamgate once per --limits entry ("streamgate" with its
# defaults, "streamgate-maxconn" with --max-connections below the open-file
# limit), each peer once. A run's id names its result files.
runs=()
for t in "${runnable[@]}"; do
	if [ "$t" = streamgate ]; then
		for l in ${limits//,/ }; do
			case "$l" in
			default) runs+=(streamgate) ;;
			set) runs+=(streamgate-maxconn) ;;
			esac
		done
	else
		runs+=("$t")
	fi
done
target_of() { echo "${1%%-*}"; }
label_of() {
	case "$1" in
	streamgate-maxconn) echo "streamgate (max_connections $sg_max_connections)" ;;
	*) echo "$1" ;;
	esac
}

# perf stat counts the servers' syscalls on tracepoints (root only)
perf_args=()
if [ "$perf" = 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		log "not root: syscalls from /proc only (read/write-like, without send/recv)"
	else
		command -v perf >/dev/null || apt_install linux-perf || true
		if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
			perf_args=(--perf)
		else
			log "perf (linux-perf) unusable: syscalls from /proc only (read/write-like, without send/recv)"
		fi
	fi
fi

# ---- processes we start, and only those, are stopped at exit ----
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamgate-bench.XXXXXX")
[ -n "$out" ] || out="$bench_build/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out/raw" "$out/logs"
pids=()

descendants() { # the children of a process we started, and theirs
	local p
	for p in $(pgrep -P "$1" 2>/dev/null); do
		echo "$p"
		descendants "$p"
	done
}
term_then_kill() { # TERM, up to 5 s, then KILL
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
}
stop_pid() { # stop one process we started, then whatever it left behind
	local pid=$1 kids k
	kill -0 "$pid" 2>/dev/null || return 0
	kids=$(descendants "$pid")
	term_then_kill "$pid"
	wait "$pid" 2>/dev/null || true
	for k in $kids; do term_then_kill "$k"; done
}
stop_all() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[$i]}"; done
	pids=()
}
cleanup() {
	stop_all
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null && return
	local p i
	for i in $(seq 100); do
		p=$((20000 + RANDOM % 30000))
		ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	return 1
}
wait_port() { # port seconds
	local i
	for i in $(seq $(($2 * 10))); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Each start_* sets srv_pid (sampled from /proc with its descendants),
# sub_port and pub_port, and appends everything it starts to pids.
# sg_extra: the arguments of the run's --limits configuration
sg_extra=()
start_streamgate() {
	local d=$tmp/streamgate i
	mkdir -p "$d"
	(cd "$root" && exec "$sg_bin" --listen 127.0.0.1:0 --log-level 1 ${sg_args[@]+"${sg_args[@]}"} ${sg_extra[@]+"${sg_extra[@]}"}) >"$d/streamgate.log" 2>&1 &
	srv_pid=$!
	pids+=("$srv_pid")
	for i in $(seq 100); do grep -q 'listening on' "$d/streamgate.log" && break; sleep 0.1; done
	sub_port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$d/streamgate.log" | head -1)
	pub_port=$sub_port
	[ -n "$sub_port" ]
}

nchan_conf() { # dir port [redis port]: an nginx.conf for nchan in dir
	local d=$1 port=$2 upstream="" redis=""
	if [ -n "${3:-}" ]; then # nchan's documented way: an upstream and nchan_redis_pass
		upstream="upstream sg_redis { nchan_redis_server redis://127.0.0.1:$3; }"
		redis="nchan_redis_pass sg_redis;"
	fi
	cat >"$d/nginx.conf" <<EOF
worker_processes $nchan_workers;
worker_rlimit_nofile 20000;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/error.log warn;
load_module $nchan_module;
events { worker_connections 19900; multi_accept on; use epoll; }
http {
  access_log off;
  client_body_temp_path $d/body;
  proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fastcgi;
  uwsgi_temp_path $d/uwsgi;
  scgi_temp_path $d/scgi;
  $upstream
  server {
    listen 127.0.0.1:$port;
    location ~ /sub/(\w+)\$ {
      nchan_subscriber websocket eventsource http-raw-stream;
      nchan_channel_id \$1;
      $redis
    }
    location ~ /pub/(\w+)\$ {
      nchan_publisher http;
      nchan_channel_id \$1;
      nchan_message_buffer_length 16;
      $redis
    }
  }
}
EOF
}
start_nchan() {
	local d=$tmp/nchan
	mkdir -p "$d"
	sub_port=$(free_port)
	pub_port=$sub_port
	nchan_conf "$d" "$sub_port"
	nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" >"$d/nginx.log" 2>&1 &
	srv_pid=$!
	pids+=("$srv_pid")
	wait_port "$sub_port" 10
}

start_pushpin() { # [upstream]: upstream-backend.js behind it instead
	local d=$tmp/pushpin mode=${1:-}
	mkdir -p "$d/run" "$d/log"
	sub_port=$(free_port)
	pub_port=$(free_port)
	backend_port=$(free_port)
	# Debian's internal.conf points at a system zurl; ours runs in $d/run
	sed -e 's#ipc:///var/run/zurl/#ipc://{rundir}/{ipc_prefix}#' /usr/lib/pushpin/internal.conf >"$d/internal.conf"
	echo "* 127.0.0.1:$backend_port,over_http" >"$d/routes"
	cat >"$d/pushpin.conf" <<EOF
[global]
include=$d/internal.conf
rundir=$d/run
ipc_prefix=sgbench-
port_offset=0
stats_connection_ttl=120

[runner]
services=condure,zurl,pushpin-proxy,pushpin-handler
http_port=127.0.0.1:$sub_port
logdir=$d/log
log_level=1
client_buffer_size=8192
client_maxconn=20000
condure_bin=condure
zurl_bin=zurl

[proxy]
routesfile=$d/routes
debug=false
auto_cross_origin=false
accept_x_forwarded_protocol=false
set_x_forwarded_protocol=proto-only
sig_iss=pushpin
sig_key=changeme
updates_check=off

[handler]
push_in_spec=ipc://{rundir}/{ipc_prefix}push-in
push_in_sub_specs=ipc://{rundir}/{ipc_prefix}push-in-sub
push_in_sub_connect=false
push_in_http_addr=127.0.0.1
push_in_http_port=$pub_port
stats_spec=ipc://{rundir}/{ipc_prefix}stats
command_spec=ipc://{rundir}/{ipc_prefix}command
message_rate=0
message_hwm=200000
message_wait=5000
id_cache_ttl=60
connection_subscription_max=20
subscription_linger=60
stats_subscription_ttl=60
stats_report_interval=10
stats_format=tnetstring
EOF
	if [ "$mode" = upstream ]; then
		node "$here/upstream-backend.js" "$backend_port" --gateway pushpin --publish "$pub_port" >"$d/backend.log" 2>&1 &
	else
		node "$here/pushpin-backend.js" "$backend_port" >"$d/backend.log" 2>&1 &
	fi
	backend_pid=$!
	pids+=("$backend_pid")
	pushpin --config "$d/pushpin.conf" --loglevel 1 >"$d/pushpin.log" 2>&1 &
	srv_pid=$!
	pids+=("$srv_pid")
	wait_port "$backend_port" 10 && wait_port "$sub_port" 20 && wait_port "$pub_port" 20
}

# ---- upstream mode (U*): the gateway proxies upstream-backend.js ----
# Each sets pub_port to the backend's port (sg-loadgen's POST /start goes
# there) and backend_pid (sampled apart from the gateway).
start_pushpin_upstream() { # scenario
	start_pushpin upstream && pub_port=$backend_port
}
start_streamgate_upstream() { # scenario: U3 makes the plain streams durable
	local d=$tmp/streamgate durable=false grip_port
	[ "$1" != U3 ] || durable=true
	mkdir -p "$d"
	backend_port=$(free_port)
	grip_port=$(free_port)
	cat >"$d/upstream.json" <<EOF
{"grip_publish_listen": "127.0.0.1:$grip_port",
 "upstreams": [
  {"path": "/u/*", "url": "http://127.0.0.1:$backend_port", "format": "ndjson", "durable": $durable},
  {"path": "/g/*", "url": "http://127.0.0.1:$backend_port"}
]}
EOF
	sg_extra+=(--config "$d/upstream.json")
	start_streamgate || return 1
	wait_port "$grip_port" 10 || return 1
	node "$here/upstream-backend.js" "$backend_port" --gateway streamgate --publish "$grip_port" >"$d/backend.log" 2>&1 &
	backend_pid=$!
	pids+=("$backend_pid")
	pub_port=$backend_port
	wait_port "$backend_port" 10
}

# ---- the scale-out scenarios (R*): two nodes on one redis-server ----
# One parent shell (srv_pid) starts redis-server, waits for it, then both
# nodes, and waits: /proc sampling and perf take it with its descendants,
# so the nodes and redis-server are counted together. sub_port2 is node B.
# redis_port is where INFO commandstats is read. R5 and R5W add a replica
# (replica_port, replicaof the primary, in the same group: its CPU counts
# too) and start the nodes once it has synced; R5W's streamgate nodes
# publish with redis_wait_replicas 1 (wait_replicas), R5's with 0.
redis_ok() { command -v redis-server >/dev/null && command -v redis-cli >/dev/null; }
replica_port=""
wait_replicas=0
group_start() { # dir, then each node's command (shell text); redis_port set
	local d=$1 node i
	shift
	{
		echo "redis-server --bind 127.0.0.1 --port $redis_port --save '' --appendonly no --dir '$d' >'$d/redis.log' 2>&1 &"
		echo "for i in \$(seq 100); do redis-cli -p $redis_port ping >/dev/null 2>&1 && break; sleep 0.1; done"
		if [ -n "$replica_port" ]; then
			mkdir -p "$d/replica"
			echo "redis-server --bind 127.0.0.1 --port $replica_port --save '' --appendonly no --dir '$d/replica' --replicaof 127.0.0.1 $redis_port >'$d/replica.log' 2>&1 &"
			echo "for i in \$(seq 100); do redis-cli -p $replica_port INFO replication 2>/dev/null | grep -q '^master_link_status:up' && break; sleep 0.1; done"
		fi
		for node in "$@"; do echo "$node &"; done
		echo "wait"
	} >"$d/group.sh"
	bash "$d/group.sh" >"$d/group.log" 2>&1 &
	srv_pid=$!
	pids+=("$srv_pid")
	for i in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
	[ -n "$replica_port" ] || { redis-cli -p "$redis_port" ping >/dev/null 2>&1; return; }
	for i in $(seq 100); do
		redis-cli -p "$redis_port" INFO replication 2>/dev/null | grep -q '^connected_slaves:1' && return 0
		sleep 0.1
	done
	return 1
}
start_streamgate_redis() {
	local d=$tmp/streamgate n p cmds=() arg args=""
	mkdir -p "$d"
	redis_port=$(free_port)
	sub_port=$(free_port)
	sub_port2=$(free_port)
	pub_port=$sub_port
	for arg in ${sg_args[@]+"${sg_args[@]}"} ${sg_extra[@]+"${sg_extra[@]}"}; do args+=" $(printf '%q' "$arg")"; done
	for n in a b; do
		[ "$n" = a ] && p=$sub_port || p=$sub_port2
		cmds+=("(cd '$root' && exec '$sg_bin' --listen 127.0.0.1:$p --log-level 1 --broker redis --redis-url redis://127.0.0.1:$redis_port/0 --redis-wait-replicas $wait_replicas$args >'$d/streamgate-$n.log' 2>&1)")
	done
	group_start "$d" "${cmds[@]}" && wait_port "$sub_port" 10 && wait_port "$sub_port2" 10
}
start_nchan_redis() {
	local d=$tmp/nchan n p cmds=()
	mkdir -p "$d"
	redis_port=$(free_port)
	sub_port=$(free_port)
	sub_port2=$(free_port)
	pub_port=$sub_port
	for n in a b; do
		[ "$n" = a ] && p=$sub_port || p=$sub_port2
		mkdir -p "$d/$n"
		nchan_conf "$d/$n" "$p" "$redis_port"
		cmds+=("nginx -p '$d/$n' -c '$d/$n/nginx.conf' -e '$d/$n/error.log' >'$d/nginx-$n.log' 2>&1")
	done
	group_start "$d" "${cmds[@]}" && wait_port "$sub_port" 10 && wait_port "$sub_port2" 10
}

# Redis's command counts (INFO commandstats: cmdstat_NAME:calls=N,...),
# one "NAME N" a line, without INFO itself. With a replica (R5, R5W) the
# (un)subscribes clients sent it count too (nchan sends some of its
# SUBSCRIBEs to the replica it discovers); its other commands are mostly
# the primary's writes replayed, counted once already.
cmdstats() { # port
	redis-cli -p "$1" INFO commandstats 2>/dev/null |
		sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\).*/\1 \2/p' | grep -v '^info ' || true
}
redis_calls() {
	{
		cmdstats "$redis_port"
		[ -z "$replica_port" ] || cmdstats "$replica_port" | grep -E '^p?(un)?subscribe ' || true
	} | awk '{ n[$1] += $2 } END { for (k in n) print k, n[k] }'
}

kv() { awk -F= -v k="$2" '$1 == k { print $2; exit }' "$1" 2>/dev/null || true; }

run_scenario() { # run-id scenario
	local id=$1 s=$2 t tr subs ch msgs rate settle maxt f
	t=$(target_of "$id")
	read -r tr subs ch msgs rate settle maxt <<<"$(scenario_params "$s")"
	f="$out/raw/$id-$s.kv"
	sg_extra=()
	[ "$id" != streamgate-maxconn ] || sg_extra=(--max-connections "$sg_max_connections")
	local start=start_$t ports=() calls_before="" upstream=()
	sub_port2=""
	backend_pid=""
	if [[ "$s" == U* ]]; then
		[ "$t" != nchan ] || { log "$id $s: nchan does not proxy upstream streams: skipped"; return; }
		[ "$id" != streamgate-maxconn ] || { log "$id $s: 1,000 connections, far below either limit: skipped"; return; }
		[ "$t" = streamgate ] || [ "$s" != U3 ] || { log "$id $s: Pushpin has no durable streams: skipped"; return; }
		start="start_${t}_upstream $s"
	fi
	replica_port=""
	wait_replicas=0
	if [[ "$s" == R* ]]; then
		redis_ok || { log "$id $s: no redis-server/redis-cli: skipped"; return; }
		[ "$t" != pushpin ] || { log "$id $s: Pushpin has no Redis mode: skipped"; return; }
		[ "$s" != R5W ] || [ "$t" = streamgate ] || { log "$id $s: $t has no WAIT for replicas: skipped"; return; }
		start=start_${t}_redis
		case "$s" in R5 | R5W) replica_port=$(free_port) ;; esac
		[ "$s" != R5W ] || wait_replicas=1
	fi
	if ! $start; then
		log "$id did not start for $s (see $out/logs/$id-$s)"
		stop_all
		mkdir -p "$out/logs/$id-$s"
		find "$tmp/$t" -name '*.log' -exec cp {} "$out/logs/$id-$s/" \; 2>/dev/null || true
		rm -rf "${tmp:?}/$t"
		return
	fi
	sleep 0.5
	log "$id $s: $subs $tr subscribers, $ch channel(s), $msgs messages at $rate/s"
	ports=(--port "$sub_port")
	[ -z "$sub_port2" ] || ports+=(--port "$sub_port2")
	[ -z "$sub_port2" ] || calls_before=$(redis_calls)
	local perf_run=()
	[ ${#perf_args[@]} -eq 0 ] || perf_run=(--perf --perf-out "$out/raw/$id-$s.perf.csv")
	[[ "$s" != U* ]] || upstream=(--path-template "$(upstream_path "$s")" --backend-pid "$backend_pid")
	# +30 s: the drain, perf's start and stop (bounded at 5 s each) and the close
	timeout -k 5 $((maxt + 30)) "$loadgen" --target "$t" --transport "$tr" \
		"${ports[@]}" --pub-port "$pub_port" --server-pid "$srv_pid" \
		--subs "$subs" --channels "$ch" --messages "$msgs" --rate "$rate" \
		--settle "$settle" --drain "$drain" --max-time "$maxt" \
		--ramp-time "$(awk -v m="$maxt" -v s="$settle" 'BEGIN { print m - s - 5 }')" --threads "$threads" \
		--pub-conns "$pub_conns" --prefix "$s" ${perf_run[@]+"${perf_run[@]}"} ${upstream[@]+"${upstream[@]}"} \
		--kv >"$f" 2>"$out/raw/$id-$s.err" ||
		log "$id $s: the load generator stopped early (exit $?)"
	if [ -n "$sub_port2" ] && [ -s "$f" ]; then
		# every command Redis ran meanwhile (the subscribes of the ramp too)
		# per accepted publish and per delivery; the breakdown in .redis
		awk 'NR == FNR { b[$1] = $2; next } { d = $2 - b[$1]; if (d > 0) print $1, d }' \
			<(echo "$calls_before") <(redis_calls) | sort -k2,2nr >"$out/raw/$id-$s.redis"
		awk -v pub="$(kv "$f" pub_ok)" -v del="$(kv "$f" delivered)" '
			{ n += $2; top = top (top == "" ? "" : " ") $1 ":" $2 }
			END {
				printf "redis_commands=%d\nredis_commands_by_name=%s\n", n, top
				printf "redis_commands_per_publish=%.3f\n", (pub > 0 ? n / pub : -1)
				printf "redis_commands_per_delivery=%.5f\n", (del > 0 ? n / del : -1)
			}' "$out/raw/$id-$s.redis" >>"$f"
		log "$id $s: Redis ran $(kv "$f" redis_commands) commands ($(kv "$f" redis_commands_by_name))"
	fi
	if [[ "$s" == U* ]]; then
		log "$id $s: $(kv "$f" established)/$subs streams, $(kv "$f" delivered)/$(kv "$f" expected) delivered, $(kv "$f" deliveries_per_s)/s at $(kv "$f" cpu_load_pct)% gateway CPU, $(kv "$f" cpu_us_per_delivery) CPU-us per delivery, backend $(kv "$f" backend_cpu_pct)% CPU, p50 $(kv "$f" lat_p50_ms) ms, p99 $(kv "$f" lat_p99_ms) ms"
	elif [ "$msgs" = 0 ]; then
		log "$id $s: $(kv "$f" established)/$subs connected, server RSS $(kv "$f" rss_per_conn_kib) KiB per connection"
	else
		log "$id $s: $(kv "$f" established)/$subs connected, $(kv "$f" delivered)/$(kv "$f" expected) delivered, p50 $(kv "$f" lat_p50_ms) ms, p99 $(kv "$f" lat_p99_ms) ms, $(kv "$f" deliveries_per_s)/s at $(kv "$f" cpu_load_pct)% CPU, $(kv "$f" server_syscalls_per_delivery) syscalls and $(kv "$f" server_write_syscalls_per_delivery) write syscalls ($(kv "$f" server_write_syscalls_from)) per delivery"
	fi
	stop_all
	# keep this run's server logs; the next start begins from an empty dir
	mkdir -p "$out/logs/$id-$s"
	find "$tmp/$t" -name '*.log' -exec cp {} "$out/logs/$id-$s/" \; 2>/dev/null || true
	rm -rf "${tmp:?}/$t"
	sleep 0.5
}

# CPU share (% of one CPU) the machine spent busy over the next 2 s
machine_busy() {
	local a b
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat)
	sleep 2
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat)
	echo $(((b - a) * 100 / $(getconf CLK_TCK) / 2))
}
if [ "$wait_quiet" -gt 0 ]; then
	# other work on the machine skews every figure: wait (bounded) for a lull
	deadline=$(($(date +%s) + wait_quiet))
	while busy=$(machine_busy) && [ "$busy" -gt 25 ] && [ "$(date +%s)" -lt "$deadline" ]; do
		log "the machine is busy (${busy} % of a CPU); waiting for a lull"
	done
	log "machine busy ${busy} % of a CPU before the run"
fi
load_before=$(cut -d' ' -f1 /proc/loadavg)
started=$(date +%s)
log "results in $out"
for id in ${runs[@]+"${runs[@]}"}; do
	for s in ${scenarios//,/ }; do
		[ -n "$(scenario_params "$s")" ] || { log "unknown scenario $s"; continue; }
		run_scenario "$id" "$s"
	done
done
elapsed=$(($(date +%s) - started))

# ---- the table ----
commas() { awk -v v="$1" 'BEGIN { if (v == "" || v < 0) { print "–"; exit } s = sprintf("%.0f", v); r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } print s r }'; }
fixed() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "" || v < 0) print "–"; else printf "%.*f\n", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a < 0 || b <= 0) print "–"; else printf "%.2f×\n", a / b }'; }
# a count per delivery: 3 decimals, or 2 significant digits below 0.01
per() { awk -v v="$1" 'BEGIN { if (v == "" || v < 0) print "–"; else if (v > 0 && v < 0.01) printf "%.2g\n", v; else printf "%.3f\n", v }'; }

# value of one metric, "" when the run is missing
metric() { # run-id scenario key
	local f="$out/raw/$1-$2.kv"
	[ -s "$f" ] || return 0
	kv "$f" "$3"
}
cell() { # run-id scenario key format
	local v
	v=$(metric "$1" "$2" "$3")
	case "$4" in
	int) commas "$v" ;;
	ms) fixed "$v" 2 ;;
	pct) [ -n "$v" ] && awk -v v="$v" 'BEGIN { if (v < 0) print "–"; else printf "%.0f %%\n", v }' || echo "–" ;;
	kib) fixed "$v" 2 ;;
	mib) [ -n "$v" ] && fixed "$(awk -v v="$v" 'BEGIN { print v / 1024 }')" 1 || echo "–" ;;
	us) fixed "$v" 2 ;;
	per) per "$v" ;;
	wper) # from perf, or /proc's syscw (which misses send/sendto/sendmsg): say which
		case "$(metric "$1" "$2" server_write_syscalls_from)" in
		perf) per "$v" ;;
		proc) echo "$(per "$v") (syscw)" ;;
		*) echo "–" ;;
		esac ;;
	esac
}
has() { [[ " ${runs[*]} " == *" $1 "* ]]; }

notes=()
check_run() { # run-id scenario: remember what went wrong
	local f="$out/raw/$1-$2.kv" subs
	read -r _ subs _ <<<"$(scenario_params "$2")"
	# upstream mode: nchan has none, Pushpin no durable streams (skipped)
	[[ "$2" != U* || "$1" != nchan ]] && [[ "$2" != U3 || "$1" != pushpin ]] || return 0
	if [ ! -s "$f" ]; then notes+=("$1 $2: no result (see $out/raw/$1-$2.err)"); return; fi
	local est lost dup drop pf
	est=$(kv "$f" established) lost=$(kv "$f" lost) dup=$(kv "$f" duplicated)
	drop=$(kv "$f" dropped) pf=$(kv "$f" pub_failed)
	[ "$est" = "$subs" ] || notes+=("$1 $2: $est of $subs subscribers connected; of the others $(kv "$f" refused) refused (last HTTP $(kv "$f" refused_status)), $(kv "$f" conn_errors) connect errors ($(kv "$f" conn_error)), $(kv "$f" closed_early) closed before answering, $(kv "$f" unanswered) unanswered, $(kv "$f" unopened) never opened")
	if [ "${lost:-0}" != 0 ] && [ "$(kv "$f" end)" = time_cap ]; then
		notes+=("$1 $2: $lost of $(kv "$f" expected) deliveries had not arrived when the run's time cap hit (still arriving)")
	elif [ "${lost:-0}" != 0 ]; then
		notes+=("$1 $2: $lost of $(kv "$f" expected) deliveries lost")
	fi
	[ "${dup:-0}" = 0 ] || notes+=("$1 $2: $dup duplicated deliveries")
	[ "${drop:-0}" = 0 ] || notes+=("$1 $2: $drop subscribers cut by the server")
	[ "${pf:-0}" = 0 ] || notes+=("$1 $2: $pf publishes failed or unanswered")
	local others
	others=$(kv "$f" others_cpu_pct)
	if awk -v v="${others:-0}" 'BEGIN { exit !(v > 25) }'; then
		notes+=("$1 $2: other processes on the machine used ${others} % of a CPU while it ran (noise)")
	fi
	local perf_note
	perf_note=$(kv "$f" perf)
	if [ ${#perf_args[@]} -gt 0 ] && [ "$(kv "$f" messages)" != 0 ] && [ "$perf_note" != ok ]; then
		notes+=("$1 $2: no syscall counts from perf ($perf_note)")
	fi
	return 0
}

# columns: streamgate's configurations, the peers, then each
# configuration's ratio to each peer
sgs=()
has streamgate && sgs+=(streamgate)
has streamgate-maxconn && sgs+=(streamgate-maxconn)
peers=()
has nchan && peers+=(nchan)
has pushpin && peers+=(pushpin)
row() { # label scenario key format
	local line="| $1" g p
	for g in ${sgs[@]+"${sgs[@]}"} ${peers[@]+"${peers[@]}"}; do line+=" | $(cell "$g" "$2" "$3" "$4")"; done
	for g in ${sgs[@]+"${sgs[@]}"}; do
		for p in ${peers[@]+"${peers[@]}"}; do line+=" | $(ratio "$(metric "$g" "$2" "$3")" "$(metric "$p" "$2" "$3")")"; done
	done
	echo "$line |"
}

{
	mode=$([ "$quick" = 1 ] && echo "--quick" || echo "full")
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
	echo "streamgate vs peers, $mode run of $(date -u '+%Y-%m-%d %H:%M UTC'), ${elapsed} s;" \
		"$(nproc) CPUs ($cpu), $mem, $(uname -sr), load average $load_before before the run;" \
		"all on 127.0.0.1, the load generator on the same machine."
	versions="servers:"
	rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
	git -C "$root" diff --quiet HEAD -- src include 2>/dev/null || rev+=" + uncommitted src/ changes"
	[ ${#sgs[@]} -eq 0 ] || versions+=" $("$sg_bin" --version 2>/dev/null | head -1) at $rev ($sg_build${sg_args[*]:+, ${sg_args[*]}}), $(has streamgate && echo "with its defaults")$(has streamgate && has streamgate-maxconn && echo " and ")$(has streamgate-maxconn && echo "with --max-connections $sg_max_connections") (open-file limit $(ulimit -n));"
	has nchan && versions+=" $(nginx -v 2>&1 | sed 's/^nginx version: //') + nchan $(dpkg-query -W -f '${Version}' libnginx-mod-nchan 2>/dev/null), $nchan_workers worker(s);"
	has pushpin && versions+=" Pushpin $(dpkg-query -W -f '${Version}' pushpin 2>/dev/null) (message_rate=0);"
	echo "$versions ratio = streamgate ÷ peer (for latency, CPU, RSS and syscalls lower is better)."
	if [ ${#perf_args[@]} -gt 0 ]; then
		echo "Syscalls: the server's and its descendants' over the publish window, counted by perf stat on" \
			"tracepoints (raw_syscalls:sys_enter; write = sendto + writev + write + sendmsg) ÷ deliveries;" \
			"they include handling the publishes. The tracepoints cost the servers some CPU per syscall" \
			"(about 5 % of streamgate's on S2 --quick): --no-perf for CPU figures without them."
	else
		echo "Syscalls: perf not used; write syscalls are /proc's syscw (VFS writes: not send/sendto/sendmsg) ÷ deliveries."
	fi
	echo
	header="| scenario, metric"
	sep="|---"
	for g in ${sgs[@]+"${sgs[@]}"} ${peers[@]+"${peers[@]}"}; do header+=" | $(label_of "$g")"; sep+="|---"; done
	for g in ${sgs[@]+"${sgs[@]}"}; do
		for p in ${peers[@]+"${peers[@]}"}; do
			header+=" | $([ "$g" = streamgate ] || echo "(max_connections $sg_max_connections) ")÷ $p"
			sep+="|---"
		done
	done
	echo "$header |"
	echo "$sep|"
	for s in ${scenarios//,/ }; do
		read -r tr subs ch msgs rate _ <<<"$(scenario_params "$s")"
		[ -n "$tr" ] || continue
		what="$s ${tr^^} $(commas "$subs") subs"
		[ "$ch" = 1 ] || what+=" / $(commas "$ch") channels"
		[ "$msgs" = 0 ] || what+=", $msgs msgs at $rate/s"
		case "$s" in
		S1 | S5)
			row "$what: latency p50 (ms)" "$s" lat_p50_ms ms
			row "$s: latency p99 (ms)" "$s" lat_p99_ms ms ;;
		S2 | S3 | S6 | S7)
			row "$what: deliveries/s" "$s" deliveries_per_s int
			row "$s: server CPU" "$s" cpu_load_pct pct
			row "$s: deliveries per server CPU-second" "$s" deliveries_per_cpu_s int
			row "$s: server syscalls per delivery" "$s" server_syscalls_per_delivery per
			row "$s: server write syscalls per delivery" "$s" server_write_syscalls_per_delivery wper
			row "$s: server epoll_ctl per delivery" "$s" server_epoll_ctl_per_delivery per
			row "$s: latency p99 (ms)" "$s" lat_p99_ms ms ;;
		S4 | S4W)
			row "$what idle: server RSS per connection (KiB)" "$s" rss_per_conn_kib kib ;;
		R1)
			row "$what, 2 nodes + Redis: latency p50 (ms)" "$s" lat_p50_ms ms
			row "$s: latency p99 (ms)" "$s" lat_p99_ms ms
			row "$s: Redis commands per publish" "$s" redis_commands_per_publish per
			row "$s: Redis commands per delivery" "$s" redis_commands_per_delivery per ;;
		R2 | R3)
			row "$what, 2 nodes + Redis: deliveries/s" "$s" deliveries_per_s int
			row "$s: CPU (both nodes + redis-server)" "$s" cpu_load_pct pct
			row "$s: deliveries per CPU-second (both nodes + redis-server)" "$s" deliveries_per_cpu_s int
			row "$s: latency p50 (ms)" "$s" lat_p50_ms ms
			row "$s: latency p99 (ms)" "$s" lat_p99_ms ms
			row "$s: syscalls per delivery (both nodes + redis-server)" "$s" server_syscalls_per_delivery per
			row "$s: Redis commands per publish" "$s" redis_commands_per_publish per
			row "$s: Redis commands per delivery" "$s" redis_commands_per_delivery per ;;
		R4)
			row "$what idle, 2 nodes + Redis: RSS per connection (KiB)" "$s" rss_per_conn_kib kib ;;
		U1 | U2 | U3)
			case "$s" in
			U1) what="U1 plain proxy" ;;
			U2) what="U2 GRIP hold-stream" ;;
			U3) what="U3 plain proxy, durable (streamgate only)" ;;
			esac
			what+=", $(commas "$subs") streams × $rate msgs/s ($msgs each)"
			row "$what: deliveries/s" "$s" deliveries_per_s int
			row "$s: gateway CPU" "$s" cpu_load_pct pct
			row "$s: **gateway CPU-µs per delivered message**" "$s" cpu_us_per_delivery us
			row "$s: deliveries per gateway CPU-second" "$s" deliveries_per_cpu_s int
			row "$s: latency p50 (ms)" "$s" lat_p50_ms ms
			row "$s: latency p99 (ms)" "$s" lat_p99_ms ms
			row "$s: gateway peak RSS (MiB)" "$s" rss_peak_kib mib
			row "$s: gateway syscalls per delivery" "$s" server_syscalls_per_delivery per
			row "$s: backend CPU (not counted above)" "$s" backend_cpu_pct pct ;;
		R5 | R5W)
			# the two side by side, each metric's R5 row then its R5W row
			r5=()
			[ "$s" = R5W ] || r5+=(R5)
			[[ ",$scenarios," != *,R5W,* ]] || r5+=(R5W)
			[ "$s" = R5 ] || [[ ",$scenarios," != *,R5,* ]] || r5=()
			[ ${#r5[@]} -eq 0 ] || echo "| $what, 2 nodes + Redis + a replica (R5: redis_wait_replicas 0, R5W: 1) |$(printf ' |%.0s' $(seq $((${#sgs[@]} + ${#peers[@]} + ${#sgs[@]} * ${#peers[@]}))))"
			for k in "deliveries/s:deliveries_per_s:int" "CPU (both nodes + primary + replica):cpu_load_pct:pct" \
				"deliveries per CPU-second (both nodes + primary + replica):deliveries_per_cpu_s:int" \
				"latency p50 (ms):lat_p50_ms:ms" "latency p99 (ms):lat_p99_ms:ms" \
				"publish answer p50 (ms):pub_answer_p50_ms:ms" "publish answer p99 (ms):pub_answer_p99_ms:ms" \
				"Redis commands per publish:redis_commands_per_publish:per"; do
				for r in ${r5[@]+"${r5[@]}"}; do
					IFS=: read -r label key fmt <<<"$k"
					row "$r: $label" "$r" "$key" "$fmt"
				done
			done ;;
		esac
		for id in ${runs[@]+"${runs[@]}"}; do
			[ "$s" != R5W ] || [ "$(target_of "$id")" = streamgate ] || continue # no WAIT in the peers
			check_run "$id" "$s"
		done
	done
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		for n in "${notes[@]}"; do echo "- $n"; done
	fi
} | tee "$out/table.md"
log "raw results and server logs: $out"
