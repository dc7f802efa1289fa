# shellcheck shell=bash
# assert.sh — the assertions of the shell tests (tests/container/run.sh,
# tests/package/*.sh): each prints "ok   NAME" or "FAIL NAME: why" and
# counts into $passed and $failed, which the script reports at its end;
# and the processes a script starts, in $pids, for its cleanup to stop.

passed=0
failed=0
pids=() # "PID:comm" of what track() was given

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
# show TEXT: TEXT quoted for an error message, control characters escaped
show() {
	if [[ $1 == *[[:cntrl:]]* ]]; then printf '%q' "$1"; else printf '"%s"' "$1"; fi
}
# expect_eq NAME GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "got $(show "$2"), want $(show "$3")"; fi
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
# track PID: kill PID at exit if it is still the process it was now
track() {
	pids+=("$1:$(cat "/proc/$1/comm" 2>/dev/null)")
}
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
