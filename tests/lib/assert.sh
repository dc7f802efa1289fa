# shellcheck shell=bash
# assert.sh — the assertions of the shell tests (tests/container/run.sh,
# tests/package/*.sh): each prints "ok   NAME" or "FAIL NAME: why" and
# counts into $passed and $failed, which the script reports at its end.

passed=0
failed=0

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
