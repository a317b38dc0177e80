#!/usr/bin/env bash
# ThreadSanitizer on the threaded part of `dagmedic logs templates` (src/logs/line_blocks.*: blocks
# handed to several threads, mined in input order): configures build-tsan with -DDM_TSAN=ON and
# builds only line_blocks_tsan_tests (the logs layer and its tests of line_blocks), then runs it; any race report
# fails the step.
source "$(dirname "$0")/../lib.sh"
STEP=12-tsan
TSAN_BUILD="${DM_BUILD_TSAN:-$DM_ROOT/build-tsan}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake -S "$DM_ROOT" -B "$TSAN_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDM_TSAN=ON \
  -DDM_BENCH=OFF >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; dm_record "$STEP" 0 1; exit 1; }
if ! cmake --build "$TSAN_BUILD" -j "$(nproc)" --target line_blocks_tsan_tests >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log"; dm_record "$STEP" 0 1; exit 1
fi
bin=$(find "$TSAN_BUILD" -type f -name line_blocks_tsan_tests -perm -u+x | head -1)
set +e
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "$bin" 2>&1 | tee "$work/out.log"
rc=${PIPESTATUS[0]}
set -e
passed=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?\..*/\1/p' "$work/out.log" | tail -1)
failed=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) tests?, listed below.*/\1/p' "$work/out.log" | tail -1)
passed=${passed:-0}; failed=${failed:-0}
if grep -q "WARNING: ThreadSanitizer" "$work/out.log" || { [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
  failed=$((failed + 1))  # a race report or a crash outside any test's verdict
fi
dm_record "$STEP" "$passed" "$failed"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
