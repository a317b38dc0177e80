#!/usr/bin/env bash
# Guarded remediation end to end (tests/guard): the approval page in headless Chromium (selenium + Debian
# chromium/chromedriver) and the adversarial suite on ONE real Airflow 3 rig (--no-zoo; the tests trigger what they
# need) with dagmedic's store on SQLite and, for the replica race, on a database of the rig's own PostgreSQL.
# The rig is started by the pytest session and always brought down (pytest teardown + this trap); the step fails
# if any rig process survives.
source "$(dirname "$0")/../lib.sh"
step=60-guard
bash "$DM_ROOT/dev/setup.d/20-python-tools.sh"
command -v chromium >/dev/null && command -v chromedriver >/dev/null \
  || dm_die "chromium/chromedriver missing (dev/setup.d/10-apt.sh installs them)"
[ -x "$DM_BUILD/dagmedic" ] || dm_die "$DM_BUILD/dagmedic missing (build first)"
mkdir -p "$DM_RESULTS"
junit="$DM_RESULTS/$step.xml"
rm -f "$junit"
state=$(mktemp -d "${TMPDIR:-/tmp}/dm-guard-rig.XXXXXX")
chmod 755 "$state"
# The suite runs dagmedic from a folder under a 0700 one (as a clone in a home folder or in `mktemp -d` is), wherever
# this clone lives: a test that drops privileges (attack 25 runs dagmedic as nobody) must not depend on the
# permissions of the folders above the repository (issue 18).
private=$(mktemp -d "${TMPDIR:-/tmp}/dm-guard-private.XXXXXX")
chmod 700 "$private"
mkdir -p "$private/p/build"
cp -p "$DM_BUILD/dagmedic" "$private/p/build/dagmedic"
export DM_GUARD_RIG_DIR="$state" DM_BUILD="$private/p/build"
unset DM_RIG_KEEP
cleanup() {
  "$DM_VENV/bin/python" "$DM_ROOT/tests/airflow/rig.py" down --state-dir "$state" >/dev/null 2>&1 || true
  rm -rf "$state" "$private"
}
trap cleanup EXIT INT TERM
set +e
( cd "$DM_ROOT/tests/guard" && "$DM_VENV/bin/python" -m pytest -p no:cacheprovider -q -o junit_family=xunit2 \
    --timeout 900 --junitxml="$junit" "$DM_ROOT/tests/guard" </dev/null )
rc=$?
set -e
dm_pytest_record "$step" "$junit"
if ! "$DM_VENV/bin/python" "$DM_ROOT/tests/airflow/rig.py" orphans --state-dir "$state"; then
  dm_log "$step: rig processes survived pytest"
  read -r p f < "$DM_RESULTS/$step.counts"
  dm_record "$step" "$p" $((f + 1))
  rc=1
fi
exit "$rc"
