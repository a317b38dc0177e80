"""STS through the credential chain against a real moto server (the local AWS endpoint).

moto checks SigV4 signatures with botocore once IAM authentication is on
(/moto-api/reset-auth), so every signed call below is verified by botocore's own signer on the
server side, and moto's GetCallerIdentity tells which identity the credentials belong to.
(moto 5.2.5 rebuilds a GET's query as a form body when it checks a signature, so only POSTs are
verified here; GETs with queries are covered against botocore directly by test_vectors.py and
test_sigv4_random.py.)
"""
import json
import urllib.request
from pathlib import Path

import boto3
import pytest

from conftest import base_env, run_probe

ACCOUNT = "123456789012"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                 "Action": "sts:AssumeRole"}]}
ALLOW_ALL = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": ["sts:*", "iam:*"], "Resource": "*"}]}


def _client(moto_url, service, **kw):
    kw.setdefault("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE")
    kw.setdefault("aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    return boto3.client(service, endpoint_url=moto_url, region_name="us-east-1", **kw)


def _set_auth(moto_url, count):
    req = urllib.request.Request(moto_url + "/moto-api/reset-auth", data=str(count).encode(),
                                 method="POST", headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req, timeout=10).read()


@pytest.fixture(scope="module")
def iam_user(moto_url):
    """An IAM user with an access key and a role it may assume; then IAM auth is switched on."""
    _set_auth(moto_url, "inf")
    iam = _client(moto_url, "iam")
    iam.create_user(UserName="dagmedic-user")
    iam.put_user_policy(UserName="dagmedic-user", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    key = iam.create_access_key(UserName="dagmedic-user")["AccessKey"]
    iam.create_role(RoleName="dagmedic-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="dagmedic-role", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    _set_auth(moto_url, 0)
    yield {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"],
           "role_arn": f"arn:aws:iam::{ACCOUNT}:role/dagmedic-role"}
    _set_auth(moto_url, "inf")


def _env(tmp_path: Path, moto_url: str, **extra) -> dict:
    env = base_env(tmp_path)
    env["AWS_ENDPOINT_URL_STS"] = moto_url
    env.update(extra)
    return env


def test_static_keys_are_verified_by_moto(probe, moto_url, iam_user, tmp_path):
    env = _env(tmp_path, moto_url, AWS_ACCESS_KEY_ID=iam_user["id"],
               AWS_SECRET_ACCESS_KEY=iam_user["secret"])
    out = run_probe(probe, "identity", env)
    assert out["ok"], out
    assert out["source"] == "environment"
    assert out["identity_status"] == 200, out
    assert out["arn"] == f"arn:aws:iam::{ACCOUNT}:user/dagmedic-user"


def test_wrong_secret_is_rejected_by_signature_check(probe, moto_url, iam_user, tmp_path):
    env = _env(tmp_path, moto_url, AWS_ACCESS_KEY_ID=iam_user["id"],
               AWS_SECRET_ACCESS_KEY="not-the-secret")
    out = run_probe(probe, "identity", env)
    assert out["identity_status"] == 403, out
    assert out["identity_error"] == "SignatureDoesNotMatch"


def test_assume_role_profile(probe, moto_url, iam_user, tmp_path):
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        f"[base]\naws_access_key_id = {iam_user['id']}\naws_secret_access_key = {iam_user['secret']}\n")
    (aws / "config").write_text(
        f"[profile ops]\nrole_arn = {iam_user['role_arn']}\nsource_profile = base\n"
        "role_session_name = dm-it\nregion = us-east-1\n")
    out = run_probe(probe, "identity", _env(tmp_path, moto_url, AWS_PROFILE="ops"))
    assert out["ok"], out
    assert out["source"] == "assume-role"
    assert out["access_key_id"].startswith("ASIA")
    assert out["session_token"] is True
    assert out["expiration_epoch"] > 0
    # The temporary credentials (with their session token) are accepted by moto: signed right.
    assert out["identity_status"] == 200, out
    assert out["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/dagmedic-role/dm-it"


def test_assume_role_with_bad_source_secret_names_source_and_hides_secret(probe, moto_url, iam_user, tmp_path):
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        f"[base]\naws_access_key_id = {iam_user['id']}\naws_secret_access_key = WRONGSECRETVALUE\n")
    (aws / "config").write_text(f"[profile ops]\nrole_arn = {iam_user['role_arn']}\nsource_profile = base\n")
    out = run_probe(probe, "creds", _env(tmp_path, moto_url, AWS_PROFILE="ops"))
    assert not out["ok"]
    assert out["error"]["code"] == "unauthenticated", out
    msg = out["error"]["message"]
    assert "(assume-role)" in msg and "SignatureDoesNotMatch" in msg, msg
    assert "WRONGSECRETVALUE" not in msg


def test_web_identity(probe, moto_url, iam_user, tmp_path):
    """AssumeRoleWithWebIdentity is unsigned. moto 5.2.5 fails (500, KeyError HTTP_AUTHORIZATION)
    on an unsigned request while IAM authentication is on, so auth is off for this one test."""
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkYWdtZWRpYyJ9.c2ln\n")
    env = _env(tmp_path, moto_url, AWS_WEB_IDENTITY_TOKEN_FILE=str(token),
               AWS_ROLE_ARN=iam_user["role_arn"], AWS_ROLE_SESSION_NAME="dm-web")
    _set_auth(moto_url, "inf")
    try:
        out = run_probe(probe, "identity", env)
    finally:
        _set_auth(moto_url, 0)
    assert out["ok"], out
    assert out["source"] == "web-identity"
    assert out["access_key_id"].startswith("ASIA")
    assert out["identity_status"] == 200, out
    assert out["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/dagmedic-role/dm-web"


def test_global_endpoint_override(probe, moto_url, iam_user, tmp_path):
    """AWS_ENDPOINT_URL (all services) is honoured when no STS-specific one is set."""
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        f"[default]\naws_access_key_id = {iam_user['id']}\naws_secret_access_key = {iam_user['secret']}\n"
        f"[r]\nrole_arn = {iam_user['role_arn']}\nsource_profile = default\nrole_session_name = via-global\n")
    env = base_env(tmp_path)
    env.update(AWS_ENDPOINT_URL=moto_url, AWS_PROFILE="r", AWS_REGION="eu-west-1")
    out = run_probe(probe, "identity", env)
    assert out["ok"], out
    assert out["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/dagmedic-role/via-global"
