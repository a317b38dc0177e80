#!/usr/bin/env bash
# Watch mode's detection latency and memory on a real Airflow rig (bench/watch/latency.py; minutes).
#   bench/watch/latency.sh [--airflow 3|2] [--runs N] [--interval S] [--soak SECONDS]
# Needs dev/setup (the Airflow venvs and the tools venv) and a built dagmedic (DM_BUILD). Never run by tests.
source "$(dirname "$0")/../../dev/lib.sh"
cmake --build "$DM_BUILD" --target dagmedic -j 2 >/dev/null
exec "$DM_VENV/bin/python" "$DM_ROOT/bench/watch/latency.py" --build "$DM_BUILD" "$@"
