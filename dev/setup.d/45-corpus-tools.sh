#!/usr/bin/env bash
# Tools the real-world log corpus runs from BashOperators on the Airflow rigs (tests/airflow/corpus.py), each in a
# venv of its own so it never touches Airflow's: dbt-core + dbt-postgres in $DM_CACHE/dbt, pyspark in $DM_CACHE/spark
# (local Spark on Debian's default JRE). Pinned by tests/airflow/requirements-{dbt,spark}.txt; a stamp (hash of the pin
# file + Python version) makes a warm run a no-op and a changed pin file rebuilds that venv.
source "$(dirname "$0")/../lib.sh"
dm_apt python3 python3-venv default-jre-headless
py=${DM_AIRFLOW_PYTHON:-python3}
pyver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
for tool in dbt spark; do
  req="$DM_ROOT/tests/airflow/requirements-$tool.txt"
  venv="$DM_CACHE/$tool"
  stamp="$(sha256sum "$req" | cut -c1-16)-py$pyver"
  if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$stamp" ]; then continue; fi
  t0=$(date +%s)
  dm_log "installing $tool into $venv (pinned by $(basename "$req"))"
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >/dev/null
  "$venv/bin/pip" install -q -r "$req"
  case $tool in  # smoke test: the venv runs
    dbt) "$venv/bin/dbt" --version >/dev/null || dm_die "dbt in $venv does not run" ;;
    spark) "$venv/bin/python" -c 'import pyspark' && java -version >/dev/null 2>&1 ||
      dm_die "pyspark in $venv or java does not run" ;;
  esac
  echo "$stamp" > "$venv/.stamp"
  dm_log "$tool installed in $(( $(date +%s) - t0 ))s"
done
