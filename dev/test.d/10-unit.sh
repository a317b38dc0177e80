#!/usr/bin/env bash
# GoogleTest unit tests, in the normal build and again under ASan+UBSan.
source "$(dirname "$0")/../lib.sh"
run() {
  local step=$1 dir=$2 out
  out=$(mktemp)
  set +e
  ( cd "$dir" && ctest -L unit -j "$(nproc)" --output-on-failure --timeout 300 ) | tee "$out"
  local rc=${PIPESTATUS[0]}
  set -e
  local line total failed
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$out" | tail -1)
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line"); failed=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
  if [ -n "$line" ]; then dm_record "$step" $((total - failed)) "$failed"; else dm_record "$step" 0 1; fi
  rm -f "$out"
  return "$rc"
}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$DM_ROOT/dev/lsan.supp"
rc=0
run 10-unit "$DM_BUILD" || rc=1
run 11-unit-asan "$DM_BUILD_ASAN" || rc=1
exit $rc
