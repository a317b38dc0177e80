#!/usr/bin/env bash
# libFuzzer targets: configures build-fuzz with clang and -DDM_FUZZ=ON, builds every target whose
# name ends in _fuzz (src/**/*_fuzz.cpp), runs each for DM_FUZZ_SECONDS (default 20) with a seed
# corpus made of the log corpora under tests/logs/. One pass per fuzzer that found nothing.
source "$(dirname "$0")/../lib.sh"
STEP=30-logs-fuzz
FUZZ_BUILD="${DM_BUILD_FUZZ:-$DM_ROOT/build-fuzz}"
SECONDS_EACH="${DM_FUZZ_SECONDS:-20}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

CC=clang CXX=clang++ cmake -S "$DM_ROOT" -B "$FUZZ_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDM_FUZZ=ON -DDM_TESTS=OFF -DDM_BENCH=OFF >"$work/configure.log" 2>&1 || {
  cat "$work/configure.log"; dm_record "$STEP" 0 1; exit 1; }
mapfile -t targets < <(ninja -C "$FUZZ_BUILD" -t targets all | sed -n 's/^\([A-Za-z0-9_]*_fuzz\): .*/\1/p' | grep -v '^cmake_' | sort -u)
if [ ${#targets[@]} -eq 0 ]; then
  dm_log "no *_fuzz targets found"; dm_record "$STEP" 0 1; exit 1
fi
# Build only the fuzz targets (and what they link), so another layer's clang issue cannot block us.
if ! cmake --build "$FUZZ_BUILD" -j 2 --target "${targets[@]}" >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log"; dm_record "$STEP" 0 ${#targets[@]}; exit 1
fi

# Seed corpus: every log of tests/logs (small files whole, big ones cut to 4 KiB pieces).
mkdir -p "$work/seed"
i=0
while IFS= read -r -d '' f; do
  split -b 4096 -a 4 "$f" "$work/seed/s$((i++))_"
done < <(find "$DM_ROOT/tests/logs" -type f \( -name '*.log' -o -name '*.txt' -o -name '*.json' -o -name '*.jsonl' \) -print0)
printf '\x01\x02password=hunter2\nAKIAIOSFODNN7EXAMPLE\n' > "$work/seed/basic"

passed=0; failed=0
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  bin=$(find "$FUZZ_BUILD" -type f -name "$t" -perm -u+x | head -1)
  [ -n "$bin" ] || { dm_log "$t: binary not found"; failed=$((failed + 1)); continue; }
  mkdir -p "$work/corpus-$t"
  dm_log "fuzzing $t for ${SECONDS_EACH}s"
  if (cd "$work" && "$bin" -max_total_time="$SECONDS_EACH" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$work/corpus-$t" "$work/seed" >"$work/$t.log" 2>&1); then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
    dm_log "$t: no crash in ${runs:-?} runs"
    passed=$((passed + 1))
  else
    dm_log "$t: FAILED"; tail -60 "$work/$t.log"
    mkdir -p "$DM_RESULTS"; cp "$work/$t.log" "$DM_RESULTS/$t.fuzz.log" || true
    cp "$work"/crash-* "$DM_RESULTS/" 2>/dev/null || true
    failed=$((failed + 1))
  fi
done
dm_record "$STEP" "$passed" "$failed"
[ "$failed" -eq 0 ]
