#!/usr/bin/env bash
# Template mining benchmark (never run by tests): `dagmedic logs templates` vs drain3 on the same
# deterministic ~1.5 M-line Airflow/Spark/worker log, with grouping agreement against the
# generator's ground truth and against drain3. Prints a Markdown report (docs/benchmarks/templates.md).
#   LINES=1500000 bench/templates/run.sh
# Optional: DM_DAGMEDIC_OLD=older dagmedic binary (checks --per-line output is byte-identical);
# the shape memo's hit rate comes from $DM_BUILD/bench/templates-mask-bench when it is built.
source "$(dirname "$0")/../../dev/lib.sh"
LINES="${LINES:-1500000}"
BIN="${DM_DAGMEDIC:-$DM_BUILD/dagmedic}"
work="$DM_CACHE/bench-templates"
mkdir -p "$work"
[ -x "$BIN" ] || dm_die "build dagmedic first (cmake --build $DM_BUILD --target dagmedic)"
[ -x "$DM_VENV/bin/python" ] && "$DM_VENV/bin/python" -c 'import drain3' 2>/dev/null ||
  bash "$DM_ROOT/dev/setup.d/20-python-tools.sh"   # dev/requirements/extract.txt pins drain3
stamp="$LINES $(sha256sum "$DM_ROOT/bench/templates/gen.py" | cut -c1-16)"
if [ "$(cat "$work/stamp" 2>/dev/null)" != "$stamp" ]; then
  dm_log "generating $LINES lines"
  python3 "$DM_ROOT/bench/templates/gen.py" "$LINES" "$work/bench.log" "$work/bench.truth"
  echo "$stamp" > "$work/stamp"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
DM_MASK_BENCH="${DM_MASK_BENCH:-$DM_BUILD/bench/templates-mask-bench}" \
  "$DM_VENV/bin/python" "$DM_ROOT/bench/templates/bench.py" "$BIN" "$work" "$LINES"
