#!/usr/bin/env bash
# Layers the build enforces (docs/architecture.md's table):
#  1. dev/check-layers on this tree: no include or CMake DEPS against the direction;
#  2. it can fail: on a copy of src/ with a planted `#include "airflow/…"` in mcp and `dm_runbook` in logs' DEPS,
#     it exits 1 and names both;
#  3. the compiler refuses the same include: a file compiled with the mcp layer's own flags (from the build's
#     compile_commands.json) that includes an airflow header does not compile, while one including common does.
source "$(dirname "$0")/../lib.sh"
STEP=05-layers
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0; failed=0
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); dm_log "FAIL: $*"; }

if "$DM_ROOT/dev/check-layers" >"$work/clean.out" 2>&1; then ok; else cat "$work/clean.out"; ko "check-layers on the tree"; fi

mkdir -p "$work/tree/docs"
cp -r "$DM_ROOT/src" "$work/tree/src"
cp "$DM_ROOT/docs/architecture.md" "$work/tree/docs/"
printf '#include "airflow/types.h"\n' >>"$work/tree/src/mcp/server.cpp"
sed -i 's/dm_layer(logs DEPS dm_common/dm_layer(logs DEPS dm_common dm_runbook/' "$work/tree/src/logs/CMakeLists.txt"
set +e
"$DM_ROOT/dev/check-layers" --root "$work/tree" >"$work/planted.out" 2>&1
rc=$?
set -e
if [ "$rc" -eq 1 ] && grep -q "src/mcp/server.cpp:.*mcp includes airflow/" "$work/planted.out" \
   && grep -q "src/logs/CMakeLists.txt:.*logs links dm_runbook" "$work/planted.out"; then ok
else cat "$work/planted.out"; ko "check-layers did not report the planted violations (rc=$rc)"; fi

# The compile command of one mcp file, pointed at a probe file instead.
cc_json="$DM_BUILD/compile_commands.json"
if [ ! -f "$cc_json" ]; then ko "$cc_json missing (build first)"; else
  python3 - "$cc_json" "$DM_ROOT/src/mcp/server.cpp" "$work" >"$work/cmd.sh" <<'PY'
import json, shlex, sys
entries, target, work = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
e = next(x for x in entries if x["file"] == target)
args = shlex.split(e["command"]) if "command" in e else e["arguments"]
out = []
skip = False
for a in args:
    if skip:
        skip = False
        continue
    if a in ("-o", "-MF", "-MT", "-MQ"):
        skip = True
        continue
    if a in ("-c", "-MD", "-MMD") or a == target:
        continue
    out.append(a)
if out and out[0].endswith("ccache"):
    out = out[1:]
print("cd " + shlex.quote(e["directory"]) + " && " + " ".join(map(shlex.quote, out)) + ' -fsyntax-only "$1"')
PY
  printf '#include "common/result.h"\nint main() { return 0; }\n' >"$work/allowed.cpp"
  printf '#include "airflow/types.h"\nint main() { return 0; }\n' >"$work/refused.cpp"
  if bash "$work/cmd.sh" "$work/allowed.cpp" >"$work/allowed.log" 2>&1; then ok
  else cat "$work/allowed.log"; ko "an mcp file including common/ did not compile"; fi
  if bash "$work/cmd.sh" "$work/refused.cpp" >"$work/refused.log" 2>&1; then ko "an mcp file including airflow/ compiled"
  elif grep -q "airflow/types.h" "$work/refused.log"; then ok
  else cat "$work/refused.log"; ko "the refused include failed for another reason"; fi
fi
dm_record "$STEP" "$passed" "$failed"
[ "$failed" -eq 0 ]
