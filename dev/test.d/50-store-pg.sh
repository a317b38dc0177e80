#!/usr/bin/env bash
# Store + guard tests against a real PostgreSQL: starts a throwaway cluster (dev/lib-pg.sh: initdb
# in a temp dir, 127.0.0.1 on a free port, trust auth, fsync off), exports DM_TEST_PG_DSN, runs
# store_pg_tests from the normal build (and the ASan build if present), records counts, always
# stops the cluster.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib-pg.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dm-pg.XXXXXX")
cleanup() {
  dm_pg_stop "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
dm_pg_start "$tmp"

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
