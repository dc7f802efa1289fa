#!/usr/bin/env bash
# scaling.sh — what a second core buys: streamgate with --workers 1 and 2,
# and nchan with 1 and 2 worker processes, on the capacity scenarios (S6
# SSE and S7 WebSocket: 1M deliveries/s asked, more than one core serves)
# and on S2/S3 of PEERS.md. Runs compare.sh once per worker count, then
# prints one table: deliveries/s, server CPU and latency for each, and the
# 2-worker ÷ 1-worker ratio. Reports numbers; never fails on timing.
#
#   tests/bench/scaling.sh [--quick] [--scenarios S6,S7,S2,S3] [--no-nchan]
#       [--out DIR] [--wait-quiet SECONDS] [--server-arg ARG]... [--per-worker]
#
# --per-worker holds the load per worker instead of the total: the one-worker
# run gets half the scenario's subscribers (half the deliveries asked), the
# two-worker run all of them, so each loop carries the same share in both
# and "deliveries per CPU-second 1 → 2" compares the cost of a delivery on a
# second worker with that on the first at the same per-loop load.
#
# The load generator shares the 2-core machine (it takes about half a core
# at these rates), so two workers can have at most ~1.5 cores between them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
quick=()
scenarios="S6,S7,S2,S3"
peers=(--only streamgate --only nchan)
out=""
quiet=()
per_worker=0
extra=() # more streamgate flags, e.g. --server-arg --write-delay-ms --server-arg 50
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=(--quick) ;;
	--scenarios) scenarios="${2:?}"; shift ;;
	--no-nchan) peers=(--only streamgate) ;;
	--out) out="${2:?}"; shift ;;
	--wait-quiet) quiet=(--wait-quiet "${2:?}"); shift ;;
	--server-arg) extra+=(--server-arg "${2:?}"); shift ;;
	--per-worker) per_worker=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "scaling.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || out="$root/build-bench/results/scaling-$(date +%Y%m%d-%H%M%S)"

for n in 1 2; do
	scale=1
	[ "$per_worker" = 0 ] || [ "$n" = 2 ] || scale=0.5
	"$here/compare.sh" --subscribers-scale "$scale" ${quick[@]+"${quick[@]}"} ${quiet[@]+"${quiet[@]}"} "${peers[@]}" --limits default \
		--scenarios "$scenarios" --server-arg --workers --server-arg "$n" \
		--nchan-workers "$n" ${extra[@]+"${extra[@]}"} --out "$out/w$n" >/dev/null
done

kv() { awk -F= -v k="$2" '$1 == k { print $2; exit }' "$1" 2>/dev/null || true; }
val() { kv "$out/w$1/raw/$2-$3.kv" "$4"; } # workers target scenario key
num() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "") print "–"; else printf "%.*f\n", d, v }'; }
times() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b <= 0) print "–"; else printf "%.2f×\n", a / b }'; }

{
	echo "scaling from 1 to 2 workers, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
		"${quick[*]:-full} sizes$([ "$per_worker" = 0 ] || echo ", the same load per worker (1 worker: half the subscribers)");" \
		"raw results in $out"
	echo
	echo "| scenario | server | deliveries/s 1 → 2 | × | server CPU 1 → 2 | deliveries per CPU-s 1 → 2 | p50 ms 1 → 2 | p99 ms 1 → 2 |"
	echo "|---|---|---|---|---|---|---|---|"
	for s in ${scenarios//,/ }; do
		for t in streamgate nchan; do
			[ -s "$out/w1/raw/$t-$s.kv" ] || continue
			d1=$(val 1 "$t" "$s" deliveries_per_s) d2=$(val 2 "$t" "$s" deliveries_per_s)
			echo "| $s | $t | $(num "$d1" 0) → $(num "$d2" 0) | $(times "$d2" "$d1")" \
				"| $(num "$(val 1 "$t" "$s" cpu_load_pct)" 0) % → $(num "$(val 2 "$t" "$s" cpu_load_pct)" 0) %" \
				"| $(num "$(val 1 "$t" "$s" deliveries_per_cpu_s)" 0) → $(num "$(val 2 "$t" "$s" deliveries_per_cpu_s)" 0)" \
				"| $(num "$(val 1 "$t" "$s" lat_p50_ms)" 1) → $(num "$(val 2 "$t" "$s" lat_p50_ms)" 1)" \
				"| $(num "$(val 1 "$t" "$s" lat_p99_ms)" 1) → $(num "$(val 2 "$t" "$s" lat_p99_ms)" 1) |"
		done
	done
	for n in 1 2; do
		sed -n 's/^- /- (workers '"$n"') /p' "$out/w$n/table.md" 2>/dev/null
	done
} | tee "$out/scaling.md"
