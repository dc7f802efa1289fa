# shellcheck shell=bash disable=SC2154 # $root, $work: set by the script that sources this
# lib.sh — sourced by tests/package/run.sh and tests/package/quickstart.sh:
# assertions, bounded waits, and a fresh Debian 12 root unpacked from the
# cached debootstrap tarball of the container test (tests/container/base.sh).
# Commands run in the root through `inroot`, each in a mount namespace of
# its own (unshare), so /proc and /dev are mounted there only and vanish
# with it: nothing is left mounted on the host, whatever happens.
# Needs $root (the checkout) and $work (a scratch directory under /tmp).

# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"

roots=() # made by fresh_root: whatever still runs in them is killed at exit
cache_dir=${STREAMGATE_TEST_CACHE:-/var/cache/streamgate-test}
base_tar=$cache_dir/debian-bookworm-slim.tar

# in_root DIR: the pids of the processes whose root directory is DIR
in_root() {
	local d
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/root" 2>/dev/null)" = "$1" ] && echo "${d#/proc/}"
	done
}
cleanup() {
	local rc=$? p r
	trap - EXIT
	for p in "${pids[@]}"; do
		[ "$(cat "/proc/${p%%:*}/comm" 2>/dev/null)" = "${p#*:}" ] && kill "${p%%:*}" 2>/dev/null
	done
	for p in "${pids[@]}"; do # give them a moment to leave the root before it goes
		wait_for 5 eval "! kill -0 ${p%%:*} 2>/dev/null"
	done
	for r in "${roots[@]}"; do
		for p in $(in_root "$r"); do kill -KILL "$p" 2>/dev/null; done
		wait_for 5 eval "[ -z \"\$(in_root '$r')\" ]"
	done
	# the root holds no mounts (inroot's die with their namespace); stay on
	# this file system anyway
	rm -rf --one-file-system "$work"
	[ "$rc" != 0 ] && [ "$failed" = 0 ] && fail "the script itself" "exit $rc"
	[ "$failed" -gt 0 ] && [ "$rc" = 0 ] && rc=1
	echo "$passed passed, $failed failed"
	exit "$rc"
}

free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
		console.log(s.address().port); s.close(); });'
}
# http_is URL BODY: 200 and exactly BODY
http_is() {
	[ "$(curl -sS --max-time 5 -f "$1" 2>/dev/null)" = "$2" ]
}

# apt_host PKG...: installs the host packages missing among PKG
apt_host() {
	local need=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
	done
	[ ${#need[@]} -eq 0 ] && return 0
	echo "== installing: ${need[*]}"
	# the lock timeout: another apt run on the machine is waited for
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq \
		-o DPkg::Lock::Timeout=600 --no-install-recommends "${need[@]}"; } >"$work/apt-host.log" 2>&1 ||
		die "install ${need[*]}" "apt-get failed" "$work/apt-host.log"
}

# fresh_root DIR: a new Debian 12 minbase root in DIR, from the cached
# tarball (made once with debootstrap when it is missing), with the host's
# resolver and its local CA certificates (/usr/local/share/ca-certificates,
# taken in when the root installs ca-certificates), so apt and npm reach
# Debian's archive and the npm registry as the host does
fresh_root() {
	roots+=("$1")
	mkdir -p "$cache_dir"
	(
		flock -w 1800 9 || exit 1
		[ -s "$base_tar" ] && exit 0
		. "$root/tests/container/base.sh"
		make_base_tar
	) 9>"$cache_dir/lock" || die "the cached Debian 12 root $base_tar" "debootstrap or tar failed" \
		"$work/debootstrap.log"
	mkdir -p "$1"
	tar --numeric-owner -xf "$base_tar" -C "$1" || die "unpack $base_tar" "tar failed"
	cp /etc/resolv.conf "$1/etc/resolv.conf"
	cp -r /usr/local/share/ca-certificates/. "$1/usr/local/share/ca-certificates/" 2>/dev/null
	return 0
}

# inroot [--userspec=U:G] DIR CMD...: CMD in the root DIR (as U:G) with
# /proc and /dev mounted in a private mount namespace
inroot() {
	local opts=
	[[ $1 == --userspec=* ]] && opts=$1 && shift
	local dir=$1
	shift
	# shellcheck disable=SC2016
	${inroot_exec:-} unshare --mount --propagation private sh -c \
		'd=$0 o=$1; shift; mount -t proc proc "$d/proc" && mount --rbind /dev "$d/dev" &&
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin exec chroot $o "$d" "$@"' \
		"$dir" "$opts" "$@"
}
# inroot_bg ARGS...: inroot in the background; unshare, sh and chroot each
# exec the next, so `$!` is the pid of the command itself
inroot_bg() {
	(
		inroot_exec="exec"
		inroot "$@"
	) &
}
# apt_root DIR ARGS...: apt-get in the root, quietly, non-interactive
apt_root() {
	local dir=$1
	shift
	inroot "$dir" env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -y -q \
		-o DPkg::Lock::Timeout=600 --no-install-recommends "$@"
}
