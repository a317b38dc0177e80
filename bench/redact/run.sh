#!/usr/bin/env bash
# Redaction throughput: dagmedic (vectorscan + RE2) vs Python `re` applying the same rules
# (rules/redaction.yaml, same semantics: bench/redact/redact_ref.py) on the same ~100 MB
# Airflow-like log, single-threaded, in one run. Never run by tests.
#   bench/redact/run.sh [MB]        (default 100; DM_BUILD selects the build folder)
# Prints both engines' MB/s (CPU time of the thread, and wall time) and whether the two outputs
# are byte-identical. Figures are recorded in docs/benchmarks/redact.md.
source "$(dirname "$0")/../../dev/lib.sh"
MB="${1:-100}"
out="$DM_CACHE/bench-redact"
mkdir -p "$out"
cmake -S "$DM_ROOT" -B "$DM_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$DM_BUILD" --target redact-bench -j 2 >/dev/null
log="$out/airflow-${MB}mb.log"
if [ ! -s "$log" ]; then
  dm_log "generating $log"
  python3 "$DM_ROOT/bench/redact/gen_log.py" "$log" "$MB" > "$out/gen.json"
fi
PY=python3
python3 -c 'import yaml' 2>/dev/null || PY="$DM_VENV/bin/python"
dm_log "C++ (dagmedic Redactor, builtin rules)"
cpp=$("$DM_BUILD/bench/redact-bench" "$log" --out "$out/cpp.out" --repeat 3)
echo "$cpp"
dm_log "Python re (same rules, same semantics)"
py=$("$PY" "$DM_ROOT/bench/redact/redact_ref.py" "$DM_ROOT/rules/redaction.yaml" "$log" "$out/py.out")
echo "$py"
same=false; cmp -s "$out/cpp.out" "$out/py.out" && same=true
python3 - "$cpp" "$py" "$same" "$(nproc)" "$(cat /proc/loadavg)" <<'PY'
import json, sys
c, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({
    "log_bytes": c["bytes"], "rules": c["rules"], "markers": c["markers"],
    "cpp_stream_cpu_mb_s": c["stream_cpu_mb_s"], "cpp_whole_cpu_mb_s": c["whole_cpu_mb_s"],
    "cpp_stream_wall_mb_s": c["stream_wall_mb_s"], "python_cpu_mb_s": p["cpu_mb_s"],
    "python_wall_mb_s": p["wall_mb_s"],
    "speedup_cpu_stream": round(c["stream_cpu_mb_s"] / p["cpu_mb_s"], 1),
    "speedup_cpu_whole": round(c["whole_cpu_mb_s"] / p["cpu_mb_s"], 1),
    "outputs_identical": sys.argv[3] == "true", "nproc": int(sys.argv[4]),
    "loadavg": sys.argv[5]}, indent=1))
PY
