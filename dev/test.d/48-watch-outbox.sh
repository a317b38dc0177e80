#!/usr/bin/env bash
# Watch mode's notification outbox end to end on the real `dagmedic watch` binary: a fake Airflow
# REST API (/api/v1 reads only) and a real local HTTP receiver per payload kind, both in
# tests/watch/test_outbox_cli.py (no Airflow rig needed): payload fields, HMAC, redaction, dead
# letters in `watch status`, and a kill -9 mid-delivery followed by a restart that loses nothing.
source "$(dirname "$0")/../lib.sh"
step=48-watch-outbox
junit="$DM_RESULTS/$step.xml"
mkdir -p "$DM_RESULTS"
export DM_BUILD
[ -x "$DM_BUILD/dagmedic" ] || { dm_log "$step: $DM_BUILD/dagmedic missing (build first)"; dm_record "$step" 0 1; exit 1; }
set +e
( cd "$DM_ROOT/tests/watch" && "$DM_VENV/bin/python" -m pytest -p no:cacheprovider -q \
    --timeout 600 --junitxml="$junit" "$DM_ROOT/tests/watch/test_outbox_cli.py" )
rc=$?
set -e
dm_pytest_record "$step" "$junit"
exit "$rc"
