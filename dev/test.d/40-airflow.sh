#!/usr/bin/env bash
# Integration tests against REAL Airflow 3 (API v2) and Airflow 2.10 (API v1): pytest tests/airflow (test_rig.py
# and afclient's test_client_*.py / test_doctor*.py). The session fixtures in tests/airflow/conftest.py bring the
# rigs up (concurrently) and always down; the step also kills leftovers and fails if any rig process survives
# (dm_rig_pytest, dev/lib.sh). Rig state dirs (AIRFLOW_HOME, component logs, rig.json) stay in
# $DM_RESULTS/airflow-rigs for debugging.
source "$(dirname "$0")/../lib.sh"
dm_rig_pytest 40-airflow "$DM_ROOT/tests/airflow" "$DM_RESULTS/airflow-rigs"
