#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang, ASan and
# UBSan into build-fuzz/, then runs each one after the other, one process,
# on a scratch copy of its seed corpus (tests/fuzz/corpus/<harness>/ is never
# written). Prints one line per harness with its execution count and time,
# and exits non-zero on any crash, leak, timeout or failed invariant; the
# failing input and the log are kept under build-fuzz/findings/.
# Usage: bash tests/fuzz/run.sh [--long] [harness...]
#   default  -max_total_time=$SG_FUZZ_SECONDS (20) per harness
#   --long   -runs=$SG_FUZZ_RUNS (10000000) per harness (also: SG_FUZZ_RUNS set)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

long=0
[ -n "${SG_FUZZ_RUNS:-}" ] && long=1
names=()
for a in "$@"; do
	case $a in
	--long) long=1 ;;
	fuzz_*) names+=("$a") ;;
	*) names+=("fuzz_$a") ;;
	esac
done
seconds=${SG_FUZZ_SECONDS:-20}
runs=${SG_FUZZ_RUNS:-10000000}

build=build-fuzz
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DSG_FUZZ=ON \
	-DSG_TESTS=OFF -DSG_WERROR=ON >/dev/null
cmake --build "$build" --target sg_fuzz -j"$(nproc)" >/dev/null

if [ ${#names[@]} -eq 0 ]; then
	for src in tests/fuzz/fuzz_*.c; do
		names+=("$(basename "$src" .c)")
	done
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
trap 'exit 143' INT TERM # so EXIT cleans up on an interrupt too
findings="$build/findings"
mkdir -p "$findings"
if [ $long = 1 ]; then
	limit=(-runs="$runs")
else
	limit=(-max_total_time="$seconds")
fi

failed=0
summary=()
for name in "${names[@]}"; do
	short=${name#fuzz_}
	corpus="$scratch/$short"
	mkdir -p "$corpus"
	[ -d "tests/fuzz/corpus/$short" ] && cp -r "tests/fuzz/corpus/$short/." "$corpus/"
	log="$findings/$name.log"
	start=$(date +%s)
	rc=0
	"$build/tests/fuzz/$name" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$findings/$name-" "$corpus" >"$log" 2>&1 || rc=$?
	took=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ $rc -eq 0 ]; then
		verdict=ok
	else
		verdict="FAILED (exit $rc, see $log)"
		failed=1
		grep -E 'ERROR|invariant failed|SUMMARY' "$log" | head -5 >&2 || true
	fi
	line=$(printf '%-16s %12s execs %6ss  %s' "$name" "${execs:-?}" "$took" "$verdict")
	echo "$line"
	summary+=("$line")
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit $failed
