#!/usr/bin/env bash
# Integration tests against REAL Airflow 3 (API v2) and Airflow 2.10 (API v1): pytest tests/airflow (test_rig.py
# and afclient's test_client_*.py / test_doctor*.py). The session fixtures in tests/airflow/conftest.py bring the
# rigs up (concurrently) and always down; this step also kills leftovers and fails if any rig process survives.
source "$(dirname "$0")/../lib.sh"
step=40-airflow
root="$DM_RESULTS/airflow-rigs"   # rig state dirs: AIRFLOW_HOME, component logs, rig.json (kept for debugging)
junit="$DM_RESULTS/$step.xml"
rm -rf "$root"; mkdir -p "$root"
export DM_RIG_ROOT="$root"
unset DM_RIG_KEEP
export DM_BUILD
cleanup() {
  for s in "$root"/af*; do
    [ -d "$s" ] && "$DM_VENV/bin/python" "$DM_ROOT/tests/airflow/rig.py" down --state-dir "$s" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT
set +e
( cd "$DM_ROOT/tests/airflow" && "$DM_VENV/bin/python" -m pytest -p no:cacheprovider -q \
    --timeout 1800 --junitxml="$junit" "$DM_ROOT/tests/airflow" )
rc=$?
set -e
dm_pytest_record "$step" "$junit"
# No process of any rig may survive the step (pytest's teardown should already have stopped them).
leftover=0
for s in "$root"/af*; do
  [ -d "$s" ] || continue
  if ! "$DM_VENV/bin/python" "$DM_ROOT/tests/airflow/rig.py" orphans --state-dir "$s"; then
    dm_log "$step: processes of rig $s survived pytest"; leftover=1
  fi
done
cleanup
if [ "$leftover" -ne 0 ]; then
  read -r p f < "$DM_RESULTS/$step.counts"
  dm_record "$step" "$p" $((f + 1))
  exit 1
fi
exit "$rc"
