#!/usr/bin/env bash
# Journey benchmark (never run by tests): bytes returned to the model for "what failed in the last hour?" down to
# the root-cause line of zoo_big_log, dagmedic vs the PyPI server mcp-server-apache-airflow, on the same Airflow 2
# rig (that server speaks only /api/v1). Writes docs/benchmarks/journey.md.
#
#   bash bench/journey/run.sh                 # builds dagmedic if missing, starts an Airflow 2 rig, stops it after
#   bash bench/journey/run.sh --rig DIR/rig.json   # use a running Airflow 2 rig (tests/airflow/rig.py up --airflow 2)
#   bash bench/journey/run.sh --no-write      # print the report only
source "$(dirname "$0")/../../dev/lib.sh"
rig_json="" write=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rig) rig_json="$2"; shift 2 ;;
    --no-write) write=0; shift ;;
    *) dm_die "unknown argument $1 (see the header of $0)" ;;
  esac
done

# The competitor in its own venv (its dependencies conflict with the tests' mcp pin); a stamp makes reruns no-ops.
venv="$DM_CACHE/venv-journey"
req="$DM_ROOT/bench/journey/requirements.txt"
stamp=$(sha256sum "$req" | cut -c1-16)
if [ ! -f "$venv/.stamp" ] || [ "$(cat "$venv/.stamp")" != "$stamp" ]; then
  dm_log "installing $req into $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$req"
  echo "$stamp" > "$venv/.stamp"
fi
[ -x "$DM_VENV/bin/python" ] || bash "$DM_ROOT/dev/setup.d/20-python-tools.sh"
[ -x "$DM_BUILD/dagmedic" ] || { dm_log "building $DM_BUILD/dagmedic"; cmake -S "$DM_ROOT" -B "$DM_BUILD" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build "$DM_BUILD" --target dagmedic -j2; }

state=""
cleanup() {
  if [ -n "$state" ]; then
    "$DM_VENV/bin/python" "$DM_ROOT/tests/airflow/rig.py" down --state-dir "$state" >/dev/null 2>&1 || true
    rm -rf "$state"
  fi
}
trap cleanup EXIT
if [ -z "$rig_json" ]; then
  bash "$DM_ROOT/dev/setup.d/40-airflow.sh"
  state=$(mktemp -d /tmp/dm-journey-rig.XXXXXX)
  dm_log "starting an Airflow 2 rig with the zoo in $state"
  "$DM_VENV/bin/python" "$DM_ROOT/tests/airflow/rig.py" up --airflow 2 --state-dir "$state" </dev/null
  rig_json="$state/rig.json"
fi

out=()
[ "$write" = 1 ] && out=(--out "$DM_ROOT/docs/benchmarks/journey.md")
"$DM_VENV/bin/python" "$DM_ROOT/bench/journey/journey.py" --rig "$rig_json" --dagmedic "$DM_BUILD/dagmedic" \
  --airflow-mcp "$venv/bin/mcp-server-apache-airflow" "${out[@]}"
