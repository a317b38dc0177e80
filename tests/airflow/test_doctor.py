"""`dagmedic doctor` against the REAL Airflow 3 and Airflow 2 rigs, a stopped Airflow and wrong credentials."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from local_server import free_port

ROOT = Path(__file__).resolve().parents[2]
DAGMEDIC = Path(os.environ.get("DM_BUILD", ROOT / "build")) / "dagmedic"


def doctor(tmp_path: Path, config: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    assert DAGMEDIC.exists(), f"{DAGMEDIC} is not built"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AF_", "DAGMEDIC_"))}
    full_env.update(env)
    full_env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")  # never read the developer's own config
    return subprocess.run([str(DAGMEDIC), "doctor", "--config", str(cfg), *args], capture_output=True, text=True,
                          timeout=180, env=full_env, stdin=subprocess.DEVNULL)


def rig_config(rig: dict, name: str = "rig") -> str:
    return (f"environments:\n  {name}:\n    kind: airflow\n    tier: prod\n    url: {rig['url']}\n"
            f"    username_env: AF_USER\n    password_env: AF_PASSWORD\n")


def creds(rig: dict, password: str | None = None) -> dict[str, str]:
    return {"AF_USER": rig["username"], "AF_PASSWORD": password if password is not None else rig["password"]}


def test_doctor_passes_against_the_rig(tmp_path, airflow_rig):
    p = doctor(tmp_path, rig_config(airflow_rig), creds(airflow_rig))
    assert p.returncode == 0, p.stdout + p.stderr
    api = airflow_rig["api_version"]
    assert f"✓ rig: reachable (Airflow {airflow_rig['airflow_version']}, API {api})" in p.stdout, p.stdout
    assert "✓ rig: authenticated (user from $AF_USER, password from $AF_PASSWORD)" in p.stdout, p.stdout
    assert "✗" not in p.stdout
    assert airflow_rig["password"] not in p.stdout + p.stderr


def test_doctor_with_pinned_api_version_and_password_file(tmp_path, airflow_rig):
    pw = tmp_path / "pw"
    pw.write_text(airflow_rig["password"] + "\n")
    cfg = (f"environments:\n  pinned:\n    kind: airflow\n    url: {airflow_rig['url']}/\n"
           f"    api_version: {airflow_rig['api_version']}\n    username_env: AF_USER\n    password_file: {pw}\n")
    p = doctor(tmp_path, cfg, {"AF_USER": airflow_rig["username"]}, "--env", "pinned")
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"API {airflow_rig['api_version']})" in p.stdout


def test_doctor_fails_clearly_on_wrong_password(tmp_path, airflow_rig):
    p = doctor(tmp_path, rig_config(airflow_rig), creds(airflow_rig, "definitely-wrong"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "✓ rig: reachable" in p.stdout  # the server is fine: only the credentials are wrong
    assert ("✗ rig: authentication failed: wrong username or password "
            "(user from $AF_USER, password from $AF_PASSWORD)") in p.stdout, p.stdout
    assert "definitely-wrong" not in p.stdout + p.stderr


def test_doctor_fails_clearly_against_a_stopped_airflow(tmp_path):
    port = free_port()  # nothing listens here
    cfg = (f"environments:\n  down:\n    kind: airflow\n    url: http://127.0.0.1:{port}\n"
           f"    username_env: AF_USER\n    password_env: AF_PASSWORD\n    timeouts: {{connect_seconds: 2, request_seconds: 5}}\n")
    p = doctor(tmp_path, cfg, {"AF_USER": "u", "AF_PASSWORD": "p"})
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"✗ down: unreachable: Airflow at http://127.0.0.1:{port} refused the connection" in p.stdout, p.stdout
    assert "start Airflow" in p.stdout


def test_doctor_checks_only_the_named_environment(tmp_path, airflow3):
    port = free_port()
    cfg = rig_config(airflow3, "good") + (
        f"  down:\n    kind: airflow\n    url: http://127.0.0.1:{port}\n")
    p = doctor(tmp_path, cfg, creds(airflow3), "--env", "good")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "down" not in p.stdout
    p = doctor(tmp_path, cfg, creds(airflow3))
    assert p.returncode == 1 and "✓ good: authenticated" in p.stdout and "✗ down: unreachable" in p.stdout, p.stdout
    p = doctor(tmp_path, cfg, creds(airflow3), "--env", "nope")
    assert p.returncode == 1 and 'environment "nope" is not in' in p.stdout and "known: good, down" in p.stdout


@pytest.mark.parametrize("config, env, expected", [
    ("environments:\n  x:\n    kind: airflow\n    url: http://127.0.0.1:9\n    password: hunter2\n", {},
     "environments.x.password: literal secrets are not allowed"),
    ("environments:\n  x:\n    kind: airfow\n    url: http://127.0.0.1:9\n", {},
     'environments.x.kind: must be airflow or mwaa, got "airfow"'),
    ("environments:\n  x: [unclosed\n", {}, "not valid YAML"),
    ("environments:\n  x:\n    kind: airflow\n    url: http://127.0.0.1:9\n    username_env: AF_USER\n"
     "    password_env: AF_PASSWORD\n", {}, "✗ x: credentials: user name variable $AF_USER is not set"),
    ("", {}, "no environments configured"),
])
def test_doctor_explains_config_problems(tmp_path, config, env, expected):
    p = doctor(tmp_path, config, env)
    assert p.returncode == 1, p.stdout + p.stderr
    assert expected in p.stdout, p.stdout
    assert "hunter2" not in p.stdout + p.stderr
