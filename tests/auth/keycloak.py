#!/usr/bin/env python3
"""A real Keycloak for the auth tests: starts `kc.sh start-dev` from the distribution that
dev/setup.d/60-keycloak.sh unpacked under $DM_CACHE, bound to 127.0.0.1, with the test realm
(tests/auth/realm-dagmedic.json) imported and an in-memory database (every start is a fresh realm),
waits until the realm answers, and stops it. Also a few OAuth calls the tests make against it.

    python3 tests/auth/keycloak.py run [--port N]     # start, print the issuer, serve until Ctrl-C

The passwords and client secrets are those of the test realm only.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REALM_FILE = HERE / "realm-dagmedic.json"
REALM = "dagmedic"
VERSION = os.environ.get("DM_KEYCLOAK_VERSION", "26.5.6")
JAVA_HOME = os.environ.get("DM_KC_JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64")
RESOURCE = "https://dagmedic.test/mcp"  # the audience mapper's resource URI (realm file)

# Test-realm credentials (realm-dagmedic.json).
AGENT = ("dagmedic-agent", "agent-secret-test-realm-only")
AGENT_ES256 = ("dagmedic-agent-es256", "dagmedic-agent-es256-secret-test-realm-only")
AGENT_EDDSA = ("dagmedic-agent-eddsa", "dagmedic-agent-eddsa-secret-test-realm-only")
READER_AGENT = ("dagmedic-reader-agent", "reader-agent-secret-test-realm-only")
OTHER_SERVICE = ("other-service", "other-secret-test-realm-only")
SERVER = ("dagmedic-server", "server-secret-test-realm-only")
PUBLIC_CLIENT = "dagmedic-cli"
PASSWORDS = {
    "reader": "reader-pw-test-realm-only",
    "operator": "operator-pw-test-realm-only",
    "approver1": "approver1-pw-test-realm-only",
    "approver2": "approver2-pw-test-realm-only",
    "opsapprover": "opsapprover-pw-test-realm-only",
    "approver3": "approver3-pw-test-realm-only",
}
# The approval page's confidential client (OIDC code + PKCE; redirect http://127.0.0.1/oidc/callback, any port).
APPROVAL_PAGE = ("dagmedic-approval-page", "approval-page-secret-test-realm-only")


def cache_dir() -> Path:
    base = os.environ.get("DM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dagmedic")
    return Path(base)


def keycloak_home() -> Path:
    return cache_dir() / "keycloak" / f"keycloak-{VERSION}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post_form(url: str, form: dict, auth: tuple[str, str] | None = None) -> tuple[int, dict]:
    data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if auth:
        import base64
        cred = f"{urllib.parse.quote(auth[0], safe='')}:{urllib.parse.quote(auth[1], safe='')}"
        req.add_header("Authorization", "Basic " + base64.b64encode(cred.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
            return r.status, (json.loads(body) if body else {})
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body) if body else {}
        except ValueError:
            return e.code, {"raw": body.decode(errors="replace")}


class Keycloak:
    """One Keycloak process. `start()` returns once the realm's discovery document answers."""

    def __init__(self, port: int | None = None, log_path: Path | None = None,
                 extra_rsa_key_pem: str | None = None):
        """`extra_rsa_key_pem`: a private RSA key (PEM) the realm also publishes in its JWK set, at a lower
        priority than its own (Keycloak keeps signing with its own): tests sign forged tokens with it."""
        self.port = port or free_port()
        self.management_port = free_port()
        self.home = keycloak_home()
        self.log_path = log_path
        self.extra_rsa_key_pem = extra_rsa_key_pem
        self.proc: subprocess.Popen | None = None
        self.started_in: float | None = None
        self._log = None
        self._lock = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.base}/realms/{REALM}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def introspection_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token/introspect"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/revoke"

    def start(self, timeout: float = 180.0) -> "Keycloak":
        kc = self.home / "bin" / "kc.sh"
        if not kc.exists():
            raise RuntimeError(f"{kc} missing: run dev/setup (dev/setup.d/60-keycloak.sh)")
        if not (Path(JAVA_HOME) / "bin" / "java").exists():
            raise RuntimeError(f"Java 21+ expected at {JAVA_HOME} (DM_KC_JAVA_HOME)")
        # The distribution folder is shared by every run: one Keycloak of ours at a time uses
        # its data/import folder (the database itself is in memory).
        self._lock = open(cache_dir() / "keycloak" / ".lock", "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        imp = self.home / "data" / "import"
        imp.mkdir(parents=True, exist_ok=True)
        for old in imp.glob("*.json"):
            old.unlink()
        realm = json.loads(REALM_FILE.read_text())
        if self.extra_rsa_key_pem:
            realm["components"]["org.keycloak.keys.KeyProvider"].append(
                {"name": "test-held-rsa", "providerId": "rsa",
                 "config": {"priority": ["1"], "privateKey": [self.extra_rsa_key_pem], "algorithm": ["RS256"],
                            "active": ["true"], "enabled": ["true"]}})
        (imp / "realm-dagmedic.json").write_text(json.dumps(realm))
        env = dict(os.environ)
        env.update(JAVA_HOME=JAVA_HOME, KC_BOOTSTRAP_ADMIN_USERNAME="admin",
                   KC_BOOTSTRAP_ADMIN_PASSWORD="admin-test-only")
        env.pop("JAVA_OPTS", None)
        args = [str(kc), "start-dev", "--http-host", "127.0.0.1", "--http-port", str(self.port),
                "--http-management-port", str(self.management_port), "--db", "dev-mem",
                "--import-realm", "--log-level", "INFO"]
        self._log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        t0 = time.monotonic()
        self.proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        url = f"{self.issuer}/.well-known/openid-configuration"
        while True:
            if self.proc.poll() is not None:
                self._release()
                raise RuntimeError(f"keycloak exited with {self.proc.returncode} while starting"
                                   + (f" (log: {self.log_path})" if self.log_path else ""))
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"keycloak not ready after {timeout:.0f} s")
            time.sleep(0.25)
        self.started_in = time.monotonic() - t0
        return self

    def stop(self) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)
        self._release()

    def _release(self) -> None:
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
            self._log = None
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> "Keycloak":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- OAuth calls ----
    def client_credentials(self, client: tuple[str, str], scope: str | None = None) -> dict:
        form = {"grant_type": "client_credentials"}
        if scope:
            form["scope"] = scope
        status, body = _post_form(self.token_endpoint, form, auth=client)
        if status != 200:
            raise RuntimeError(f"client_credentials for {client[0]}: HTTP {status} {body}")
        return body

    def password_grant(self, username: str, scope: str | None = None) -> dict:
        form = {"grant_type": "password", "client_id": PUBLIC_CLIENT, "username": username,
                "password": PASSWORDS[username]}
        if scope:
            form["scope"] = scope
        status, body = _post_form(self.token_endpoint, form)
        if status != 200:
            raise RuntimeError(f"password grant for {username}: HTTP {status} {body}")
        return body

    def revoke(self, token: str, client_id: str = PUBLIC_CLIENT,
               client: tuple[str, str] | None = None) -> int:
        form = {"token": token, "token_type_hint": "access_token"}
        if client is None:
            form["client_id"] = client_id
        status, _ = _post_form(self.revocation_endpoint, form, auth=client)
        return status

    def logout(self, refresh_token: str) -> int:
        status, _ = _post_form(f"{self.issuer}/protocol/openid-connect/logout",
                               {"client_id": PUBLIC_CLIENT, "refresh_token": refresh_token})
        return status

    # Admin REST API (the bootstrap admin of the master realm), for tests that change a user.
    def admin_token(self) -> str:
        status, body = _post_form(f"{self.base}/realms/master/protocol/openid-connect/token",
                                  {"grant_type": "password", "client_id": "admin-cli", "username": "admin",
                                   "password": "admin-test-only"})
        if status != 200:
            raise RuntimeError(f"admin token: HTTP {status} {body}")
        return body["access_token"]

    def _admin(self, token: str, method: str, path: str, body: dict | None = None):
        req = urllib.request.Request(f"{self.base}/admin/realms/{REALM}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Authorization", f"Bearer {token}")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
            return json.loads(data) if data else None

    def admin_user_id(self, token: str, username: str) -> str:
        users = self._admin(token, "GET", f"/users?exact=true&username={urllib.parse.quote(username)}")
        return users[0]["id"]

    def admin_rename(self, token: str, user_id: str, username: str) -> None:
        """Changes a user's username (same subject), allowing it in the realm for the moment of the change."""
        self._admin(token, "PUT", "", {"editUsernameAllowed": True})
        try:
            user = self._admin(token, "GET", f"/users/{user_id}")
            user["username"] = username
            self._admin(token, "PUT", f"/users/{user_id}", user)
        finally:
            self._admin(token, "PUT", "", {"editUsernameAllowed": False})

    def introspect(self, token: str) -> dict:
        status, body = _post_form(self.introspection_endpoint, {"token": token}, auth=SERVER)
        if status != 200:
            raise RuntimeError(f"introspection: HTTP {status} {body}")
        return body


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="start Keycloak with the test realm and serve until Ctrl-C")
    r.add_argument("--port", type=int, default=None)
    r.add_argument("--log", type=Path, default=None)
    a = ap.parse_args()
    kc = Keycloak(port=a.port, log_path=a.log)
    kc.start()
    print(f"keycloak ready in {kc.started_in:.1f} s: issuer {kc.issuer}", flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        kc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
