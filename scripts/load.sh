#!/usr/bin/env bash
# HTTP load test of the nested tree query (PostGraphile's shape, peers.md).
#
# Builds orgraph and cmd/orgraph-load, seeds a fresh SQLite database
# (orgraph seed --orgs 1000 --depth 3 --fanout 5), serves it on a free
# loopback port, and sends the nested query at concurrency 1 and 16, then
# stops the server. Everything it writes lives in a mktemp -d directory that
# is removed on exit; nothing is left in the repository. It needs only Go.
#
# Environment:
#   GO                 go command (default: go)
#   LOAD_ORGS          orgs to seed (default 1000)
#   LOAD_DURATION      timed duration per concurrency level (default 10s)
#   LOAD_REQUESTS      fixed request count per level instead of a duration
#   LOAD_CONCURRENCY   concurrency levels (default "1 16")
#   LOAD_WARMUP        untimed requests per worker first (default 10)
#   LOAD_KEEP_LOG=1    print the server log at the end
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
ORGS=${LOAD_ORGS:-1000}
DURATION=${LOAD_DURATION:-10s}
REQUESTS=${LOAD_REQUESTS:-0}
LEVELS=${LOAD_CONCURRENCY:-1 16}
WARMUP=${LOAD_WARMUP:-10}

work=$(mktemp -d "${TMPDIR:-/tmp}/orgraph-load.XXXXXX")
server=""
stop_server() {
	if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
		kill -TERM "$server" 2>/dev/null || true
		# orgraph shuts down gracefully within 15 s; do not wait longer.
		for _ in $(seq 1 100); do
			kill -0 "$server" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	server=""
}
cleanup() {
	status=$?
	stop_server
	if [ "$status" -ne 0 ] || [ "${LOAD_KEEP_LOG:-}" = 1 ]; then
		[ -f "$work/serve.log" ] && { echo "--- server log (last 20 lines)"; tail -n 20 "$work/serve.log"; } >&2
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== load: building orgraph and orgraph-load"
"$GO" build -o "$work/orgraph" ./cmd/orgraph
"$GO" build -o "$work/orgraph-load" ./cmd/orgraph-load

db="$work/orgraph.db"
echo "== load: seeding $ORGS orgs (depth 3, fanout 5) into a fresh SQLite database"
timeout 300 "$work/orgraph" seed --db "$db" --orgs "$ORGS" --depth 3 --fanout 5
timeout 60 "$work/orgraph" token --db "$db" --alias seed-owner --ttl 1h >"$work/token"

port=$("$work/orgraph-load" freeport)
url="http://127.0.0.1:$port"
"$work/orgraph" serve --db "$db" --addr "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
"$work/orgraph-load" wait -url "$url/readyz" -timeout 30s

echo "== load: nested tree query (1 + 5 + 25 + 125 orgs, members, application counts) on $url"
if [ "$REQUESTS" -gt 0 ]; then amount=(-n "$REQUESTS"); else amount=(-d "$DURATION"); fi
for c in $LEVELS; do
	timeout 600 "$work/orgraph-load" run -url "$url/graphql" -token-file "$work/token" \
		-query nested -root-var id -c "$c" "${amount[@]}" -warmup "$WARMUP" -server-pid "$server"
done
stop_server
echo "== load: done"
