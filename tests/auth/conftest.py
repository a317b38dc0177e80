"""Fixtures for the auth tests: one real Keycloak for the session (tests/auth/keycloak.py, the realm of
realm-dagmedic.json plus an RSA key whose private half the tests hold, published in the realm's JWK set so forged
tokens carry a valid signature and reach the claim checks), and `dagmedic serve --transport http` with `auth:`.

The Airflow environments point at a local socket that only records what reaches it (tests/auth/test_auth_keycloak.py
uses it to show the caller's token is never forwarded): no tool here needs a working Airflow, the tests prove who may
list and call what, and what is refused before anything runs."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "lib"))
import keycloak as K  # noqa: E402
from local_server import free_port, stop  # noqa: E402

BUILD = Path(os.environ.get("DM_BUILD", REPO / "build"))
DAGMEDIC = BUILD / "dagmedic"
RESOURCE = K.RESOURCE
METADATA_URL = "https://dagmedic.test/.well-known/oauth-protected-resource/mcp"
INTROSPECTION_SECRET_ENV = "DM_TEST_INTROSPECTION_SECRET"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    p = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


@dataclass
class Forger:
    """Signs tokens with the RSA key the test realm publishes (kid found in the live JWK set)."""

    key: rsa.RSAPrivateKey
    kid: str
    issuer: str

    def claims(self, **over) -> dict:
        now = int(time.time())
        c = {"iss": self.issuer, "aud": RESOURCE, "sub": "forged-sub", "azp": "dagmedic-agent",
             "preferred_username": "operator", "scope": "dagmedic:read dagmedic:operate",
             "groups": ["env:dev", "env:prod"], "iat": now, "exp": now + 300}
        for k, v in over.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    def sign(self, claims: dict, header: dict | None = None, key: rsa.RSAPrivateKey | None = None) -> str:
        h = header or {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        data = f"{b64url(json.dumps(h).encode())}.{b64url(json.dumps(claims).encode())}"
        sig = (key or self.key).sign(data.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{data}.{b64url(sig)}"


@pytest.fixture(scope="session")
def test_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def kc(test_key, tmp_path_factory) -> Iterator[K.Keycloak]:
    pem = test_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    log = tmp_path_factory.mktemp("keycloak") / "keycloak.log"
    k = K.Keycloak(log_path=log, extra_rsa_key_pem=pem)
    k.start()
    print(f"\n[auth] keycloak ready in {k.started_in:.1f} s ({k.issuer})", file=sys.stderr)
    results = os.environ.get("DM_RESULTS")
    if results:
        Path(results).mkdir(parents=True, exist_ok=True)
        (Path(results) / "65-auth.keycloak-start-seconds").write_text(f"{k.started_in:.1f}\n")
    try:
        yield k
    finally:
        k.stop()


@pytest.fixture(scope="session")
def forger(kc, test_key) -> Forger:
    import urllib.request
    jwks = json.loads(urllib.request.urlopen(kc.jwks_uri, timeout=10).read())
    n = b64url(test_key.public_key().public_numbers().n.to_bytes(256, "big"))
    kid = next(k["kid"] for k in jwks["keys"] if k.get("n") == n)
    return Forger(test_key, kid, kc.issuer)


class Recorder:
    """A socket on 127.0.0.1 that stands where Airflow would be: it records the raw bytes of every request that
    reaches it and answers 503 — except GET of DAG etl (200, for the approval-page tests' request_approval). It
    implements nothing else of Airflow; it shows what dagmedic sends there."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            with c:
                c.settimeout(2)
                data = b""
                try:
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    self.requests.append(data)
                    if data.startswith(b"GET /api/v2/dags/etl "):
                        # The one DAG the approval-page tests ask approvals for (request_approval reads it).
                        body = b'{"dag_id":"etl","is_paused":false,"owners":["data"],"tags":[],"fileloc":"/dags/etl.py"}'
                        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                  + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                    else:
                        c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self._t.join(5)
        self.sock.close()


@pytest.fixture(scope="session")
def airflow_socket() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


@dataclass
class Served:
    url: str
    port: int
    config: Path
    env: dict
    log: Path
    page: str = ""  # the approval page's base URL (approval_page=True), e.g. http://127.0.0.1:N

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(DAGMEDIC), *args, "--config", str(self.config)], env=self.env,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    def audit_verify(self) -> subprocess.CompletedProcess:
        return self.cli("audit", "verify")

    def audit_entries(self) -> list[dict]:
        r = self.cli("audit", "export")
        assert r.returncode == 0, r.stderr
        return [json.loads(line)["entry"] for line in r.stdout.splitlines() if line.strip()]


@contextmanager
def serve(kc: K.Keycloak, tmp: Path, airflow_port: int, introspection: bool = False,
          approval_page: bool = False) -> Iterator[Served]:
    tmp.mkdir(parents=True, exist_ok=True)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    cfg = tmp / "config.yaml"
    lines = [
        "version: 1",
        "defaults: {environment: dev}",
        "environments:",
        f"  dev: {{kind: airflow, tier: dev, api_version: v2, url: 'http://127.0.0.1:{airflow_port}'}}",
        f"  prod: {{kind: airflow, tier: prod, api_version: v2, url: 'http://127.0.0.1:{airflow_port}'}}",
        "store:",
        "  backend: sqlite",
        f"  path: {tmp / 'dagmedic.db'}",
        "identity: {principal: operator}",
        "auth:",
        f"  issuer: {kc.issuer}",
        f"  audience: {RESOURCE}",
        "  leeway_seconds: 5",
        "  environments: {dev: ['env:dev'], prod: ['env:prod']}",
    ]
    if introspection:
        lines += ["  introspection:", f"    client_id: {K.SERVER[0]}",
                  f"    client_secret_env: {INTROSPECTION_SECRET_ENV}"]
    if approval_page:
        lines.insert(lines.index("auth:"), "policy: {allow_dags: {prod: [etl]}}")
        lines += ["  approval_page:", f"    client_id: {K.APPROVAL_PAGE[0]}",
                  "    client_secret_env: DM_TEST_APPROVAL_PAGE_SECRET"]
    cfg.write_text("\n".join(lines) + "\n")
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
           "XDG_CACHE_HOME": str(home / "cache"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           INTROSPECTION_SECRET_ENV: K.SERVER[1], "DM_TEST_APPROVAL_PAGE_SECRET": K.APPROVAL_PAGE[1]}
    port = free_port()
    log = tmp / "serve.log"
    cmd = [str(DAGMEDIC), "serve", "--transport", "http", "--port", str(port), "--config", str(cfg)]
    if approval_page:
        cmd += ["--approval-port", "0"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"dagmedic serve exited with {proc.returncode}: {log.read_text(errors='replace')[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"dagmedic serve not listening after 60 s: {log.read_text(errors='replace')[-3000:]}")
                time.sleep(0.1)
        page = ""
        if approval_page:
            import re
            m = None
            while m is None and time.monotonic() < deadline:
                m = re.search(r"approval page (http://127\.0\.0\.1:\d+)/approvals/", log.read_text(errors="replace"))
                time.sleep(0.05)
            assert m, log.read_text(errors="replace")[-3000:]
            page = m.group(1)
        yield Served(f"http://127.0.0.1:{port}/mcp", port, cfg, env, log, page)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def server(kc, airflow_socket, tmp_path_factory) -> Iterator[Served]:
    if not DAGMEDIC.is_file():
        pytest.fail(f"{DAGMEDIC} is missing: build it first")
    with serve(kc, tmp_path_factory.mktemp("serve"), airflow_socket.port) as s:
        yield s


@pytest.fixture(scope="module")
def server_introspecting(kc, airflow_socket, tmp_path_factory) -> Iterator[Served]:
    with serve(kc, tmp_path_factory.mktemp("serve-introspection"), airflow_socket.port, introspection=True) as s:
        yield s


@pytest.fixture(scope="module")
def server_with_page(kc, airflow_socket, tmp_path_factory) -> Iterator[Served]:
    with serve(kc, tmp_path_factory.mktemp("serve-page"), airflow_socket.port, approval_page=True) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by selenium (as in tests/guard), one profile per test module."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver_bin = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    profile = tempfile.mkdtemp(prefix="dm-chromium-oidc-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(driver_bin), options=opts)
    d.set_page_load_timeout(60)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
