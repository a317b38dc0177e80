"""`dagmedic login` (OAuth 2.0 device authorization grant, RFC 8628) against the real Keycloak, and the CLI's
decisions sent to the server's decision API (issue 14, "Approvers sign in").

The real `dagmedic` binary runs `login` as a subprocess; the test reads the verification URL it prints, and
Chromium (Debian's, driven by selenium as in test_approval_page_oidc.py) opens it, signs in through Keycloak's real
login form and grants (or denies) on Keycloak's device consent page. Then `dagmedic approvals approve ID` sends the
decision with the stored token to `POST /api/approvals/{id}/decision` of the approval page's server. Each test states
the expected answer and checks that nothing ran that shouldn't and that `audit verify` stays OK. Every login keeps
its tokens in its own $XDG_STATE_HOME. docs/security.md has the attack table."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

import keycloak as K
from conftest import DAGMEDIC
from test_approval_page_oidc import approvals_show, assert_unchanged_and_nothing_ran, request_approval

URL_LINE = re.compile(r"to sign in, open (https?://\S+)")


class Login:
    """`dagmedic login` running as a subprocess with its own state dir; stderr is read as it comes."""

    def __init__(self, server, state: Path) -> None:
        self.state = state
        self.env = dict(server.env, XDG_STATE_HOME=str(state))
        self.proc = subprocess.Popen([str(DAGMEDIC), "login", "--config", str(server.config)], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.err: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)

    def url(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.err):
                m = URL_LINE.search(line)
                if m:
                    return m.group(1)
            if self.proc.poll() is not None and not self._t.is_alive():
                break
            time.sleep(0.05)
        pytest.fail("dagmedic login printed no verification URL: " + "".join(self.err))

    def wait(self, timeout: float = 120) -> tuple[int, str, str]:
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        rc = self.proc.wait(timeout)
        self._t.join(5)
        return rc, out, "".join(self.err)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="dm-chromium-device-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    d.set_page_load_timeout(60)
    return d, profile


def grant_in_browser(kc, url: str, user: str, grant: bool = True) -> str:
    """A fresh Chromium (no Keycloak session) opens the verification URL, signs `user` in through Keycloak's form
    and presses Yes (grant) or No (deny) on Keycloak's device consent page. Returns the final page's text."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    d, profile = chromium()
    try:
        wait = WebDriverWait(d, 60, ignored_exceptions=(WebDriverException,))
        d.get(url)
        assert d.current_url.startswith(kc.issuer), d.current_url  # Keycloak's own pages
        # verification_uri_complete carries the user code; should Keycloak still show its code form, submit it.
        wait.until(lambda drv: drv.find_elements(By.ID, "username") or drv.find_elements(By.ID, "device-user-code"))
        if not d.find_elements(By.ID, "username"):
            d.find_element(By.ID, "kc-login").click()
        wait.until(ec.presence_of_element_located((By.ID, "username"))).send_keys(user)
        d.find_element(By.ID, "password").send_keys(K.PASSWORDS[user])
        d.find_element(By.ID, "kc-login").click()
        # The device flow's consent page ("Do you grant these access privileges?"): Yes or No.
        wait.until(lambda drv: drv.find_elements(By.NAME, "accept") or "success" in drv.page_source.lower())
        consent = d.find_elements(By.NAME, "accept" if grant else "cancel")
        assert consent or grant, "Keycloak showed no consent page to deny on: " + d.page_source[:2000]
        if consent:
            consent[0].click()
            wait.until(lambda drv: drv.execute_script("return document.readyState") == "complete"
                       and not drv.find_elements(By.NAME, "accept"))
        return d.find_element(By.TAG_NAME, "body").text
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


def device_login(kc, server, tmp: Path, user: str, grant: bool = True) -> tuple[Login, int, str, str]:
    login = Login(server, tmp / f"state-{user}")
    try:
        url = login.url()
        assert f"{kc.issuer}/device" in url, url
        grant_in_browser(kc, url, user, grant)
        rc, out, err = login.wait()
    finally:
        login.kill()
    return login, rc, out, err


def cli_as(server, login: Login, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(DAGMEDIC), *args, "--config", str(server.config)], env=login.env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def token_file(login: Login) -> Path:
    return login.state / "dagmedic" / "login.json"


def assert_no_token_printed(login: Login, *texts: str) -> None:
    stored = json.loads(token_file(login).read_text())
    for secret in (stored["access_token"], stored["refresh_token"]):
        if secret:
            for t in texts:
                assert secret not in t
                assert secret[:40] not in t


def test_device_login_then_approve_records_the_idp_subject(kc, server_with_page, tmp_path):
    """`dagmedic login` completes the device flow in Chromium as approver1 (exit 0, names the user, scopes and
    environments; tokens in a 0600 file of a 0700 dir, never printed); `approvals approve ID --server PAGE` is
    recorded by the server with approver1's Keycloak subject; `audit verify` OK; no trigger ran."""
    s = server_with_page
    a = request_approval(kc, s)
    login, rc, out, err = device_login(kc, s, tmp_path, "approver1")
    assert rc == 0, out + err
    assert "logged in as approver1" in out and "dagmedic:approve" in out and "environments: dev, prod" in out, out
    f = token_file(login)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE(f.parent.stat().st_mode) == 0o700
    assert_no_token_printed(login, out, err)

    r = cli_as(s, login, "approvals", "approve", a, "--reason", "checked the conf", "--server", s.page)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"approved {a} as approver1: approval is now approved" in r.stdout, r.stdout
    assert_no_token_printed(login, r.stdout, r.stderr)
    shown = approvals_show(s, a)
    assert shown["state"] == "approved", shown
    d = shown["decisions"][0]
    admin = kc.admin_token()
    assert d["principal"] == "approver1"
    assert d["idp"] == {"issuer": kc.issuer, "subject": kc.admin_user_id(admin, "approver1")}, d
    entries = s.audit_entries()
    assert not [e for e in entries if e["tool"] == "trigger_dag" and e["decision"] == "call"]
    v = s.audit_verify()
    assert v.returncode == 0, v.stdout + v.stderr

    # Logout revokes the refresh token at Keycloak and removes the file; the CLI then says to log in.
    out = cli_as(s, login, "logout")
    assert out.returncode == 0 and "revoked the refresh token" in out.stdout, out.stdout + out.stderr
    assert not f.exists()
    b = request_approval(kc, s)
    r = cli_as(s, login, "approvals", "approve", b, "--reason", "x", "--server", s.page)
    assert r.returncode == 1 and "run `dagmedic login`" in r.stderr, r.stderr
    assert_unchanged_and_nothing_ran(s, b)


def test_a_readers_login_cannot_decide(kc, server_with_page, tmp_path):
    """9 with the CLI: reader logs in (no dagmedic-approver role, so Keycloak grants no dagmedic:approve scope);
    login says so; `approvals approve` → the server answers 403 insufficient_scope; nothing recorded."""
    s = server_with_page
    a = request_approval(kc, s)
    login, rc, out, err = device_login(kc, s, tmp_path, "reader")
    assert rc == 0, out + err
    assert "logged in as reader" in out and "no dagmedic:approve scope" in out, out
    r = cli_as(s, login, "approvals", "approve", a, "--reason", "I read it", "--server", s.page)
    assert r.returncode == 1
    assert "HTTP 403, insufficient_scope" in r.stderr and "lacks the dagmedic:approve scope" in r.stderr, r.stderr
    assert_unchanged_and_nothing_ran(s, a)


def test_the_requesters_own_login_cannot_approve(kc, server_with_page, tmp_path):
    """11 with the CLI: opsapprover asks through an MCP client, then logs in with the device flow and approves →
    403 "cannot approve a request made by their own agent"; nothing recorded."""
    s = server_with_page
    token = kc.password_grant("opsapprover")["access_token"]
    a = request_approval(kc, s, token=token)
    login, rc, out, err = device_login(kc, s, tmp_path, "opsapprover")
    assert rc == 0, out + err
    r = cli_as(s, login, "approvals", "approve", a, "--reason", "mine", "--server", s.page)
    assert r.returncode == 1
    assert "HTTP 403" in r.stderr and "cannot approve a request made by their own agent" in r.stderr, r.stderr
    assert_unchanged_and_nothing_ran(s, a)


def test_denying_at_keycloak_fails_the_login(kc, server_with_page, tmp_path):
    """The person presses No on Keycloak's consent page → Keycloak answers access_denied to the poll → login exits
    1 with "denied at the identity provider (access_denied)"; no token file."""
    s = server_with_page
    # approver2: a user with no device login yet (Keycloak may remember a consent once given).
    login, rc, out, err = device_login(kc, s, tmp_path, "approver2", grant=False)
    assert rc == 1, out + err
    assert "denied at the identity provider (access_denied)" in err, err
    assert not token_file(login).exists()
    v = s.audit_verify()
    assert v.returncode == 0, v.stdout + v.stderr


def test_the_decision_api_refuses_browsers_cookies_and_other_clients_tokens(kc, server_with_page):
    """The decision API: no bearer token → 401; a cookie only → 401; an Origin header (a browser) with a good
    token → 403 cross_site; an agent's service-account token (client dagmedic-agent, even with the approve scope)
    → 401 "not to dagmedic login's client"; a token of dagmedic-cli for approver2 (env:prod only) on a dev
    approval → 403. Nothing recorded, no run, audit OK."""
    s = server_with_page
    a = request_approval(kc, s)
    url = f"{s.page}/api/approvals/{a}/decision"
    body = {"decision": "approve", "reason": "x"}
    r = httpx.post(url, json=body, timeout=30)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized", r.text
    r = httpx.post(url, json=body, headers={"Cookie": "dm_session=" + "f" * 64}, timeout=30)
    assert r.status_code == 401 and "cookies are not accepted" in r.json()["message"], r.text
    good = kc.password_grant("approver1")["access_token"]
    r = httpx.post(url, json=body, headers={"Authorization": f"Bearer {good}", "Origin": s.page}, timeout=30)
    assert r.status_code == 403 and r.json()["error"] == "cross_site", r.text
    agent = kc.client_credentials(K.AGENT, scope="dagmedic:approve")["access_token"]
    r = httpx.post(url, json=body, headers={"Authorization": f"Bearer {agent}"}, timeout=30)
    assert r.status_code == 401 and "not to dagmedic login's client" in r.json()["message"], r.text
    prod_only = kc.password_grant("approver2")["access_token"]
    r = httpx.post(url, json=body, headers={"Authorization": f"Bearer {prod_only}"}, timeout=30)
    assert r.status_code == 403 and "may not decide in environment dev" in r.json()["message"], r.text
    assert_unchanged_and_nothing_ran(s, a)
