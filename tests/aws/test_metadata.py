"""Container (ECS/EKS) and EC2 IMDSv2 credential sources through aws-probe over real HTTP,
against metadata_double.py (a test double: these endpoints exist only on AWS hosts)."""
import json
import urllib.request

import pytest

from conftest import base_env, run_probe


def control(url, **state):
    req = urllib.request.Request(url + "/_control", data=json.dumps(state).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()


def log(url):
    return json.loads(urllib.request.urlopen(url + "/_log", timeout=10).read())


def imds_env(tmp_path, url):
    env = base_env(tmp_path)
    del env["AWS_EC2_METADATA_DISABLED"]
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = url
    return env


def test_imds_v2_flow_sends_token_on_every_get(probe, metadata_url, tmp_path):
    control(metadata_url, v1=False, token_status=None)
    out = run_probe(probe, "creds", imds_env(tmp_path, metadata_url))
    assert out["ok"], out
    assert out["source"] == "imds"
    assert out["access_key_id"] == "ASIAIMDSEXAMPLEKEYID0001"
    assert out["session_token"] is True
    assert out["expiration_epoch"] == 4070908800  # 2099-01-01
    calls = log(metadata_url)
    assert [(c["method"], c["path"]) for c in calls] == [
        ("PUT", "/latest/api/token"),
        ("GET", "/latest/meta-data/iam/security-credentials/"),
        ("GET", "/latest/meta-data/iam/security-credentials/dagmedic-instance-role"),
    ]
    assert calls[0]["ttl"] == "21600"
    assert calls[1]["token"] and calls[1]["token"] == calls[2]["token"]


@pytest.mark.parametrize("status", [403, 404, 405])
def test_imds_falls_back_to_v1_when_token_refused(probe, metadata_url, tmp_path, status):
    control(metadata_url, v1=True, token_status=status)
    out = run_probe(probe, "creds", imds_env(tmp_path, metadata_url))
    assert out["ok"], out
    assert out["source"] == "imds"
    calls = log(metadata_url)
    assert len(calls) == 3 and all(c["token"] is None for c in calls[1:])


def test_imds_v1_disabled_refuses_fallback(probe, metadata_url, tmp_path):
    control(metadata_url, v1=True, token_status=405)
    env = imds_env(tmp_path, metadata_url)
    env["AWS_EC2_METADATA_V1_DISABLED"] = "true"
    out = run_probe(probe, "creds", env)
    assert not out["ok"]
    assert "(imds)" in out["error"]["message"]
    assert len(log(metadata_url)) == 1


def test_imds_required_tokens_without_token_gets_nothing(probe, metadata_url, tmp_path):
    """HttpTokens=required and the token call failing: v1 GETs are refused (401) like on EC2."""
    control(metadata_url, v1=False, token_status=404)
    out = run_probe(probe, "creds", imds_env(tmp_path, metadata_url))
    assert not out["ok"]
    assert out["error"]["code"] == "unauthenticated"
    assert "IMDS answered HTTP 401" in out["error"]["message"]


def test_imds_disabled_sends_nothing(probe, metadata_url, tmp_path):
    control(metadata_url, v1=True, token_status=None)
    env = imds_env(tmp_path, metadata_url)
    env["AWS_EC2_METADATA_DISABLED"] = "TRUE"
    out = run_probe(probe, "creds", env)
    assert not out["ok"]
    assert log(metadata_url) == []


def test_container_full_uri_with_token_file(probe, metadata_url, tmp_path):
    control(metadata_url, ecs_token="eks-pod-identity-token")
    token = tmp_path / "token"
    token.write_text("eks-pod-identity-token\n")
    env = base_env(tmp_path)
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = metadata_url + "/container/creds"
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = str(token)
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "ignored-when-file-set"
    out = run_probe(probe, "creds", env)
    assert out["ok"], out
    assert out["source"] == "container"
    assert out["access_key_id"] == "ASIAECSEXAMPLEKEYID0001"
    assert [c["authorization"] for c in log(metadata_url)] == ["eks-pod-identity-token"]


def test_container_wrong_token_fails_after_retries_without_leaking(probe, metadata_url, tmp_path):
    control(metadata_url, ecs_token="right")
    env = base_env(tmp_path)
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = metadata_url + "/container/creds"
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong-token-value"
    out = run_probe(probe, "creds", env)
    assert not out["ok"]
    assert out["error"]["code"] == "unauthenticated"
    assert "(container)" in out["error"]["message"] and "HTTP 401" in out["error"]["message"]
    assert "wrong-token-value" not in out["error"]["message"]
    assert len(log(metadata_url)) == 3  # botocore's 3 attempts


def test_container_full_uri_to_foreign_host_is_refused(probe, tmp_path):
    env = base_env(tmp_path)
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://192.0.2.10/creds"
    out = run_probe(probe, "creds", env)
    assert not out["ok"]
    assert out["error"]["code"] == "permission_denied"


def test_environment_beats_container_and_imds(probe, metadata_url, tmp_path):
    control(metadata_url, v1=True, token_status=None)
    env = imds_env(tmp_path, metadata_url)
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = metadata_url + "/container/creds"
    env["AWS_ACCESS_KEY_ID"] = "AKIAENVEXAMPLE"
    env["AWS_SECRET_ACCESS_KEY"] = "x"
    out = run_probe(probe, "creds", env)
    assert out["source"] == "environment"
    assert log(metadata_url) == []
