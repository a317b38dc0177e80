#!/usr/bin/env bash
# Issue 13, replicas with no sticky sessions (tests/replicas): two `dagmedic serve --transport http` replicas sharing
# one config (store on a throwaway PostgreSQL, one audit key) behind HAProxy (roundrobin, no stickiness, health
# checks, retries + redispatch), on the REAL Airflow 3 rig; the official Python MCP SDK (2026-07-28) talks only to
# HAProxy and runs the runbook from Detect to Postmortem, with approvals given out of band through the CLI, consumed
# through the other replica, and one replica SIGKILLed on the way. The fixtures start and always stop everything;
# the step brings down whatever survived (DM_RESULTS/replicas-rigs/{af3,replicas}: rig.py's bookkeeping) and fails
# if anything did (dm_rig_pytest, dev/lib.sh).
source "$(dirname "$0")/../lib.sh"
step=47-replicas
[ -x "$DM_BUILD/dagmedic" ] || { dm_log "$step: $DM_BUILD/dagmedic missing (build first)"; dm_record "$step" 0 1; exit 1; }
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || dm_die "haproxy missing (dev/setup.d/10-apt.sh installs it)"
export PATH="$PATH:/usr/sbin"
dm_rig_pytest "$step" "$DM_ROOT/tests/replicas" "$DM_RESULTS/replicas-rigs" </dev/null
