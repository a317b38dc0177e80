#!/usr/bin/env bash
# AWS layer (src/aws) against the reference and the real local endpoint: pytest tests/aws.
#  - SigV4: botocore's SigV4Auth regenerates the vectors, the C++ signer must match them byte for
#    byte (test_vectors.py), plus 400 seeded random requests (test_sigv4_random.py).
#  - Credential chain: STS AssumeRole / AssumeRoleWithWebIdentity against a moto server with IAM
#    signature checking on (test_sts_moto.py); container and IMDSv2 sources against the
#    metadata test double (test_metadata.py). Fixtures start both on free 127.0.0.1 ports and
#    always stop them.
source "$(dirname "$0")/../lib.sh"
step=45-aws
junit="$DM_RESULTS/$step.xml"
mkdir -p "$DM_RESULTS"
export DM_BUILD
for f in "$DM_BUILD/aws-probe" "$DM_BUILD/src/aws/aws_tests"; do
  [ -x "$f" ] || { dm_log "$step: $f missing (build first)"; dm_record "$step" 0 1; exit 1; }
done
set +e
( cd "$DM_ROOT/tests/aws" && "$DM_VENV/bin/python" -m pytest -p no:cacheprovider -q \
    --timeout 300 --junitxml="$junit" "$DM_ROOT/tests/aws" )
rc=$?
set -e
dm_pytest_record "$step" "$junit"
exit "$rc"
