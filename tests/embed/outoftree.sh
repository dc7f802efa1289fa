#!/usr/bin/env bash
# Installs the build in $1 into a scratch prefix, then builds and runs
# outoftree/hello.c twice — with pkg-config and with find_package — and
# checks what curl reads from each, byte for byte.
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
export LD_LIBRARY_PATH="$tmp/prefix/lib"
cc -Wall -Wextra -Werror -o "$tmp/hello-pc" "$here/outoftree/hello.c" \
	$(pkg-config --cflags --libs streamgate)
cmake -S "$here/outoftree" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
expected=$'hello from outside\none\ntwo\nthree\n'
passed=0
failed=0
for prog in "$tmp/hello-pc" "$tmp/cm/hello"; do
	"$prog" 0 >"$tmp/out" &
	pid=$!
	for _ in $(seq 100); do grep -q '^port ' "$tmp/out" 2>/dev/null && break; sleep 0.05; done
	port=$(sed -n 's/^port //p' "$tmp/out")
	got=$(curl -sN --max-time 10 "http://127.0.0.1:$port/hello"; echo x)
	kill -TERM "$pid"
	wait "$pid"
	pid=""
	if [ "${got%x}" = "$expected" ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		printf '%s: expected %q, got %q\n' "$prog" "$expected" "${got%x}" >&2
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
