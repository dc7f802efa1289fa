#!/bin/bash
# The image's HEALTHCHECK: GET /healthz from the gateway, with bash's
# /dev/tcp so the runtime image needs no curl. The address is the one the
# gateway uses: STREAMGATE_LISTEN, else "listen" in $STREAMGATE_CONFIG,
# else 0.0.0.0:8080; a wildcard host is asked on 127.0.0.1.
# Exits 0 when the answer is "HTTP/1.1 200", 1 otherwise.
listen=${STREAMGATE_LISTEN:-}
if [ -z "$listen" ] && [ -r "${STREAMGATE_CONFIG:-}" ]; then
	listen=$(sed -n 's/.*"listen"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$STREAMGATE_CONFIG")
	listen=${listen%%$'\n'*}
fi
listen=${listen:-0.0.0.0:8080}
host=${listen%:*}
port=${listen##*:}
host=${host#[}
host=${host%]}
case $host in '' | 0.0.0.0 | '::' | '*') host=127.0.0.1 ;; esac

exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
IFS= read -r -t 2 status <&3 || exit 1
exec 3<&-
case $status in
"HTTP/1.1 200"*) echo "healthy: $host:$port" ;;
*) echo "unhealthy: $host:$port answered ${status%$'\r'}" && exit 1 ;;
esac
