"""Regenerates the SigV4 vectors with botocore (gen_vectors.py) and runs the C++ comparison
(aws_tests, SigV4Vectors.*) on the fresh file; the checked-in copy used by the unit step must
equal what botocore produces today."""
import json
import os
import subprocess
import sys

from conftest import HERE, _build_dir


def test_fresh_botocore_vectors_match_cpp_signer(tmp_path):
    out = tmp_path / "vectors.json"
    subprocess.run([sys.executable, str(HERE / "gen_vectors.py"), str(out)], check=True, timeout=120)
    fresh = json.loads(out.read_text())
    assert len(fresh["vectors"]) >= 50
    exe = _build_dir() / "src" / "aws" / "aws_tests"
    assert exe.exists(), f"{exe} missing: build the aws_tests target"
    env = dict(os.environ, DM_SIGV4_VECTORS=str(out))
    r = subprocess.run([str(exe), "--gtest_filter=SigV4Vectors.*"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "[  PASSED  ] 1 test" in r.stdout


def test_checked_in_vectors_are_current(tmp_path):
    out = tmp_path / "vectors.json"
    subprocess.run([sys.executable, str(HERE / "gen_vectors.py"), str(out)], check=True, timeout=120)
    fresh = json.loads(out.read_text())["vectors"]
    stored = json.loads((HERE / "sigv4_vectors.json").read_text(encoding="utf-8"))["vectors"]
    assert fresh == stored, "tests/aws/sigv4_vectors.json is stale: run tests/aws/gen_vectors.py"
