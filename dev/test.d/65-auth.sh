#!/usr/bin/env bash
# `dagmedic serve --transport http` as an OAuth 2.1 resource server against a real Keycloak (tests/auth): the
# official MCP Python SDK lists/calls tools with tokens from Keycloak, and also does the OAuth itself (its
# authorization-code + PKCE provider signing in through Keycloak's login form in headless Chromium, and its
# client-credentials provider); the attacks of docs/security.md each assert the exact HTTP answer. Keycloak (dev/setup.d/60-keycloak.sh, run on Temurin 25) is started and stopped by
# the pytest session itself (tests/auth/keycloak.py), bound to 127.0.0.1 with an in-memory database.
source "$(dirname "$0")/../lib.sh"
step=65-auth
bash "$DM_ROOT/dev/setup.d/20-python-tools.sh"
bash "$DM_ROOT/dev/setup.d/60-keycloak.sh"
[ -x "$DM_BUILD/dagmedic" ] || dm_die "$DM_BUILD/dagmedic missing (build first)"
mkdir -p "$DM_RESULTS"
junit="$DM_RESULTS/$step.xml"
rm -f "$junit" "$DM_RESULTS/$step.keycloak-start-seconds"
set +e
( cd "$DM_ROOT/tests/auth" && DM_BUILD="$DM_BUILD" "$DM_VENV/bin/python" -m pytest -p no:cacheprovider -q \
    -o junit_family=xunit2 --timeout 600 --junitxml="$junit" "$DM_ROOT/tests/auth" </dev/null )
rc=$?
set -e
dm_pytest_record "$step" "$junit"
[ -f "$DM_RESULTS/$step.keycloak-start-seconds" ] \
  && dm_log "$step: keycloak started in $(cat "$DM_RESULTS/$step.keycloak-start-seconds") s"
exit "$rc"
