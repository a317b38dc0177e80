#!/usr/bin/env bash
# Real Apache Airflow for the integration rig (tests/airflow/rig.py): Airflow 3.x in $DM_CACHE/airflow3 and
# Airflow 2.10 in $DM_CACHE/airflow2, each from a pinned known-good set (tests/airflow/requirements-airflow{3,2}.txt,
# since the official constraint files cannot be downloaded here), plus Debian's PostgreSQL for the Airflow 2 rig.
# A stamp (hash of the pin file + Python version) makes a warm run a no-op; a changed pin file rebuilds that venv.
source "$(dirname "$0")/../lib.sh"
dm_apt python3 python3-venv postgresql
py=${DM_AIRFLOW_PYTHON:-python3}
pyver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
for v in 3 2; do
  req="$DM_ROOT/tests/airflow/requirements-airflow$v.txt"
  venv="$DM_CACHE/airflow$v"
  stamp="$(sha256sum "$req" | cut -c1-16)-py$pyver"
  if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$stamp" ] && [ -x "$venv/bin/airflow" ]; then continue; fi
  t0=$(date +%s)
  dm_log "installing Airflow $v into $venv (pinned by $(basename "$req"))"
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >/dev/null
  "$venv/bin/pip" install -q -r "$req"
  home=$(mktemp -d)  # smoke test: the venv imports and runs
  AIRFLOW_HOME="$home" "$venv/bin/airflow" version >/dev/null || dm_die "Airflow $v in $venv does not run"
  rm -rf "$home"
  echo "$stamp" > "$venv/.stamp"
  dm_log "Airflow $v installed in $(( $(date +%s) - t0 ))s"
done
