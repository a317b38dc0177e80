#!/usr/bin/env bash
# Store + guard tests against a real PostgreSQL: starts a throwaway cluster (initdb in a temp dir,
# 127.0.0.1 on a free port, trust auth, fsync off), exports DM_TEST_PG_DSN, runs store_pg_tests
# from the normal build (and the ASan build if present), records counts, always stops the cluster.
# Root cannot run postgres: as root the cluster runs as the `postgres` user (runuser).
source "$(dirname "$0")/../lib.sh"

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || dm_die "PostgreSQL not installed (run dev/setup)"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dm-pg.XXXXXX")
started=0
cleanup() {
  if [ "$started" = 1 ]; then as_pg "$PG_BIN/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || dm_die "user postgres missing (Debian's postgresql package creates it)"
  chown postgres "$tmp"; chmod 700 "$tmp"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$PG_BIN/initdb" -D "$tmp/data" -U dm -A trust -E UTF8 --no-sync >"$tmp/initdb.log" 2>&1 \
  || { cat "$tmp/initdb.log" >&2; dm_die "initdb failed"; }
mkdir -p "$tmp/sock"; [ "$(id -u)" = 0 ] && chown postgres "$tmp/sock"
started=1
as_pg "$PG_BIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp/sock -c fsync=off -c full_page_writes=off" start >/dev/null \
  || { cat "$tmp/server.log" >&2; dm_die "postgres did not start"; }
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U dm dmtest
export DM_TEST_PG_DSN="host=127.0.0.1 port=$port dbname=dmtest user=dm connect_timeout=10"
dm_log "postgres $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"

rc=0
run_bin() {
  local step=$1 bin=$2 p f
  if [ ! -x "$bin" ]; then dm_log "$bin missing (build first)"; dm_record "$step" 0 1; rc=1; return; fi
  if "$bin" --gtest_output="xml:$tmp/$step.xml"; then
    dm_pytest_record "$step" "$tmp/$step.xml"
  else
    rc=1  # e.g. a sanitizer abort after all tests passed: count it as a failure
    dm_pytest_record "$step" "$tmp/$step.xml"
    read -r p f < "$DM_RESULTS/$step.counts"; dm_record "$step" "$p" $((f + 1))
  fi
}
# libpqxx 6.4 leaks libpq's PGresult when a statement hits a connection the server has terminated
# (it throws broken_connection before taking ownership; cf. ClickHouse/ClickHouse#56627). The
# dropped-connection tests do exactly that; only libpqxx allocates PGresults here, so suppress
# just that allocation site.
echo "leak:PQmakeEmptyPGresult" > "$tmp/lsan.supp"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$tmp/lsan.supp"
run_bin 50-store-pg "$DM_BUILD/src/guard/store_pg_tests"
if [ -d "$DM_BUILD_ASAN" ]; then
  run_bin 50-store-pg-asan "$DM_BUILD_ASAN/src/guard/store_pg_tests"
fi
exit $rc
