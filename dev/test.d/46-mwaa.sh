#!/usr/bin/env bash
# dagmedic on an environment of kind mwaa (pytest tests/mwaa): `dagmedic serve` driven by the official Python MCP
# client; REST through InvokeRestApi on the MWAA TEST DOUBLE (tests/mwaa/mwaa_double.py: SigV4 verified with
# botocore, forwards to the REAL Airflow 3 rig and its `airflow` CLI); task logs from CloudWatch Logs on moto,
# written there by the rig's own remote logging (apache-airflow-providers-amazon, rig.py --cloudwatch-endpoint).
# Every runbook read tool (test_runbook_e2e.py's checks) and a guarded trigger_dag run on kind mwaa. The fixtures
# start moto, the rig and the double on free 127.0.0.1 ports and always stop them; this step also brings the rig
# down on exit and fails if any rig process survives (dm_rig_pytest, dev/lib.sh).
source "$(dirname "$0")/../lib.sh"
step=46-mwaa
[ -x "$DM_BUILD/dagmedic" ] || { dm_log "$step: $DM_BUILD/dagmedic missing (build first)"; dm_record "$step" 0 1; exit 1; }
dm_rig_pytest "$step" "$DM_ROOT/tests/mwaa" "$DM_RESULTS/mwaa-rigs"
