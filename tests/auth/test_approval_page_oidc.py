"""The approval page with `auth:` (issue 14, attacks 15–18): approvers sign in through the real Keycloak (OIDC
authorization code + PKCE, client dagmedic-approval-page of realm-dagmedic.json) and only such decisions count.

Chromium (Debian's, driven by selenium as in tests/guard) signs in through Keycloak's real login form and approves.
The attacks drive the same flow by hand (httpx, Keycloak's real login form, real codes) and tamper with one step;
each states the expected answer, and checks that the approval is unchanged, no run started and `audit verify` is OK.
docs/security.md has the table."""

from __future__ import annotations

import re
import urllib.parse

import httpx
import pytest

import keycloak as K
from test_auth_keycloak import call_body, open_session, post


def approvals_show(server, approval_id: str) -> dict:
    import json
    r = server.cli("approvals", "show", approval_id, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def assert_unchanged_and_nothing_ran(server, approval_id: str, decisions: int = 0) -> None:
    a = approvals_show(server, approval_id)
    assert a["state"] == "pending", a
    assert len(a["decisions"]) == decisions, a
    entries = server.audit_entries()
    assert not [e for e in entries if e["tool"] == "trigger_dag" and e["decision"] == "call"], entries
    v = server.audit_verify()
    assert v.returncode == 0, v.stdout + v.stderr


def request_approval(kc, server, env: str = "dev", token: str | None = None) -> str:
    """An approval requested over MCP: by the agent's service account (dev), or with `token`."""
    token = token or kc.client_credentials(K.AGENT)["access_token"]
    sid = open_session(server, token)
    r = post(server, call_body("request_approval", {"environment": env, "action": "trigger_dag",
                                                    "params": {"dag_id": "etl"},
                                                    "reason": "rerun after the fix"}), token, session=sid)
    assert r.status_code == 200, r.text
    text = r.text
    m = re.search(r'approval_id[\\"]*\s*[:=]\s*[\\"]*([0-9a-f]{32})', text)
    assert m, text
    return m.group(1)


class Browserless:
    """One browser's cookie jar, by hand: the page, then Keycloak's login form, then the callback."""

    def __init__(self, server) -> None:
        self.server = server
        self.c = httpx.Client(timeout=30, follow_redirects=False)

    def close(self) -> None:
        self.c.close()

    def start(self, approval_id: str) -> str:
        """GET /oidc/login; returns Keycloak's authorization URL (the pre-login cookie is in the jar)."""
        r = self.c.get(f"{self.server.page}/oidc/login", params={"return": f"/approvals/{approval_id}"})
        assert r.status_code == 302, r.text
        return r.headers["location"]

    def keycloak_login(self, authorize_url: str, user: str) -> str:
        """Keycloak's real login form, filled in; returns the callback URL Keycloak redirects to."""
        r = self.c.get(authorize_url)
        assert r.status_code == 200, (r.status_code, r.text[:500])
        action = re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', r.text)
        assert action, r.text[:2000]
        url = action.group(1).replace("&amp;", "&")
        # Keycloak's session cookies, sent by hand (httpx's jar keeps its Secure/SameSite=None ones off plain http).
        kc_cookies = "; ".join(h.split(";", 1)[0] for h in r.headers.get_list("set-cookie"))
        r = httpx.post(url, data={"username": user, "password": K.PASSWORDS[user], "credentialId": ""},
                       headers={"Cookie": kc_cookies}, timeout=30, follow_redirects=False)
        assert r.status_code == 302, (r.status_code, r.text[:1000])
        return r.headers["location"]

    def callback(self, url: str) -> httpx.Response:
        return self.c.get(url)

    def sign_in(self, approval_id: str, user: str) -> httpx.Response:
        r = self.callback(self.keycloak_login(self.start(approval_id), user))
        return r

    def decide(self, approval_id: str, decision: str = "approve", extra: dict | None = None,
               csrf_from: str | None = None) -> httpx.Response:
        page = self.c.get(f"{self.server.page}/approvals/{csrf_from or approval_id}")
        m = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        form = {"csrf": m.group(1) if m else "", "decision": decision, "reason": "checked the conf"}
        form.update(extra or {})
        # The CSRF cookie is path-scoped to its approval: send the pair by hand when it belongs to another one.
        cookies = {k: v for k, v in self.c.cookies.items()}
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if csrf_from else None
        return self.c.post(f"{self.server.page}/approvals/{approval_id}", data=form, headers=headers)


@pytest.fixture
def hand(server_with_page):
    b = Browserless(server_with_page)
    yield b
    b.close()


def notice(r: httpx.Response) -> str:
    m = re.search(r'id="notice"[^>]*>(.*?)</p>', r.text, re.S)
    return m.group(1) if m else r.text[:500]


# --- Chromium through Keycloak's real login form -------------------------------------------------------------

def test_chromium_signs_in_through_keycloak_and_approves(kc, server_with_page, browser):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    s = server_with_page
    approval_id = request_approval(kc, s)
    wait = WebDriverWait(browser, 60, ignored_exceptions=(WebDriverException,))
    browser.get(f"{s.page}/approvals/{approval_id}")
    assert browser.find_elements(By.ID, "token") == []  # no approver-token login with auth:
    browser.find_element(By.ID, "signin-link").click()
    wait.until(ec.presence_of_element_located((By.ID, "username"))).send_keys("approver1")
    assert browser.current_url.startswith(kc.issuer), browser.current_url  # Keycloak's own form
    browser.find_element(By.ID, "password").send_keys(K.PASSWORDS["approver1"])
    browser.find_element(By.ID, "kc-login").click()
    signed = wait.until(ec.presence_of_element_located((By.ID, "signed-in")))
    assert browser.current_url == f"{s.page}/approvals/{approval_id}", browser.current_url
    assert "approver1" in signed.text
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["dm_session"]["httpOnly"] and cookies["dm_session"]["sameSite"] == "Strict", cookies
    browser.find_element(By.ID, "decision-reason").send_keys("looked at the conf")
    browser.execute_script("window.__dm_old_page = true")
    browser.find_element(By.ID, "approve").click()
    wait.until(lambda d: d.execute_script(
        "return window.__dm_old_page === undefined && document.readyState === 'complete'"))
    text = browser.find_element(By.ID, "notice").text
    assert "Approved by approver1 (1 of 1)" in text, text
    a = approvals_show(s, approval_id)
    assert a["state"] == "approved"
    d = a["decisions"][0]
    assert d["principal"] == "approver1" and d["idp"]["issuer"] == kc.issuer and d["idp"]["subject"], a
    v = s.audit_verify()
    assert v.returncode == 0, v.stdout + v.stderr


# --- attacks ---------------------------------------------------------------------------------------------------

def jar(b: "Browserless", name: str, path: str | None = None) -> str:
    return next(c.value for c in b.c.cookies.jar if c.name == name and (path is None or c.path == path))


def test_15_a_session_for_one_approval_is_refused_on_another(kc, server_with_page, hand):
    """15: a sign-in is bound to the approval it was started from (and to one decision). B's page shows it no form;
    a POST to B with B's own CSRF pair (from someone signed in for B) and A's session → 403 "This sign-in was made
    for approval A"; B is unchanged. The session then decides on A, once."""
    s = server_with_page
    a, b = request_approval(kc, s), request_approval(kc, s)
    assert hand.sign_in(a, "approver1").status_code == 200
    session_a = jar(hand, "dm_session")
    page = httpx.get(f"{s.page}/approvals/{b}", headers={"Cookie": f"dm_session={session_a}"}, timeout=30)
    assert 'name="csrf"' not in page.text and 'id="signin-link"' in page.text
    other = Browserless(s)
    assert other.sign_in(b, "approver2").status_code == 200
    pb = other.c.get(f"{s.page}/approvals/{b}")
    csrf_b = re.search(r'name="csrf" value="([0-9a-f]+)"', pb.text).group(1)
    nonce_b = jar(other, "dm_csrf", f"/approvals/{b}")
    other.close()
    r = httpx.post(f"{s.page}/approvals/{b}", data={"csrf": csrf_b, "decision": "approve", "reason": "replayed"},
                   headers={"Cookie": f"dm_session={session_a}; dm_csrf={nonce_b}"}, timeout=30)
    assert r.status_code == 403 and f"This sign-in was made for approval {a}" in notice(r), r.text
    assert_unchanged_and_nothing_ran(s, b)
    r = hand.decide(a)
    assert r.status_code == 200 and "Approved by approver1" in notice(r), r.text
    again = hand.decide(a)
    assert "Approved by" not in notice(again)


def test_16_csrf_on_the_decision_post_is_refused(kc, server_with_page, hand):
    """16: a cross-site POST (foreign Origin) → 403 "cross-site request"; a POST without the CSRF pair (the
    session cookie alone) → 403 "Form expired"; nothing recorded."""
    s = server_with_page
    a = request_approval(kc, s)
    assert hand.sign_in(a, "approver1").status_code == 200
    session = hand.c.cookies.get("dm_session")
    r = httpx.post(f"{s.page}/approvals/{a}", data={"decision": "approve", "reason": "x"},
                   headers={"Origin": "https://evil.example", "Cookie": f"dm_session={session}"})
    assert r.status_code == 403 and "cross-site request" in r.text, r.text
    r = httpx.post(f"{s.page}/approvals/{a}", data={"decision": "approve", "reason": "x"},
                   headers={"Cookie": f"dm_session={session}"})
    assert r.status_code == 403 and "Form expired" in r.text, r.text
    assert_unchanged_and_nothing_ran(s, a)


def test_17a_state_forged_replayed_or_from_another_browser_is_refused(kc, server_with_page, hand):
    """17 (state): a callback with a forged state → 401 "unknown or already used sign-in (state)"; the real code
    with the right state but without this browser's pre-login cookie → 401 "started in another browser"; the
    same callback replayed after it succeeded → 401; no session from any of them."""
    s = server_with_page
    a = request_approval(kc, s)
    cb = hand.keycloak_login(hand.start(a), "approver1")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(cb).query)
    forged = cb.replace(q["state"][0], "a" * 64)
    r = hand.callback(forged)
    assert r.status_code == 401 and "unknown or already used sign-in (state)" in r.text, r.text
    other = httpx.get(cb, timeout=30)  # another browser: no dm_oidc cookie
    assert other.status_code == 401 and "started in another browser" in other.text, other.text
    assert "dm_session" not in other.headers.get("set-cookie", "")
    ok = hand.callback(cb)
    assert ok.status_code == 200, ok.text
    replay = httpx.get(cb, cookies={"dm_oidc": "x"}, timeout=30)
    assert replay.status_code == 401, replay.text
    assert_unchanged_and_nothing_ran(s, a)


def test_17b_nonce_mismatch_is_refused(kc, server_with_page, hand):
    """17 (nonce): the authorization request sent to Keycloak with another nonce (an injected login) → the ID token
    carries that nonce → 401 "the nonce is not the one this sign-in sent"; no session."""
    s = server_with_page
    a = request_approval(kc, s)
    url = hand.start(a)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    tampered = url.replace(f"nonce={q['nonce'][0]}", "nonce=" + "b" * 64)
    r = hand.callback(hand.keycloak_login(tampered, "approver1"))
    assert r.status_code == 401 and "the nonce is not the one this sign-in sent" in r.text, r.text
    assert "dm_session" not in r.headers.get("set-cookie", "")
    assert_unchanged_and_nothing_ran(s, a)


@pytest.mark.parametrize("ret", ["https://evil.example/", "//evil.example/approvals/x", "/approvals/x/../../evil",
                                 "/\\evil.example", "/healthz", ""])
def test_18_open_redirect_through_the_return_url_is_refused(server_with_page, ret):
    """18: /oidc/login?return=<anything but /approvals/<id>> → 400, no Location, no sign-in started."""
    r = httpx.get(f"{server_with_page.page}/oidc/login", params={"return": ret}, timeout=30)
    assert r.status_code == 400, r.text
    assert "location" not in r.headers
    assert "Sign-in returns only to an approval of this page" in r.text


def test_the_requester_signing_in_cannot_approve_their_agents_request(kc, server_with_page, hand):
    """11 with IdP identities: opsapprover (operator and approver) asks through an MCP client; signed in on the page
    they are refused "cannot approve a request made by their own agent"."""
    s = server_with_page
    token = kc.password_grant("opsapprover")["access_token"]
    a = request_approval(kc, s, token=token)
    assert hand.sign_in(a, "opsapprover").status_code == 200
    r = hand.decide(a)
    assert r.status_code == 403 and "cannot approve a request made by their own agent" in notice(r), r.text
    assert_unchanged_and_nothing_ran(s, a)


def test_an_approver_of_prod_only_cannot_approve_in_dev(kc, server_with_page, hand):
    """12 on the page: approver2 (env:prod only) on a dev approval → 403 "may not decide in environment dev"."""
    s = server_with_page
    a = request_approval(kc, s, "dev")
    assert hand.sign_in(a, "approver2").status_code == 200
    r = hand.decide(a)
    assert r.status_code == 403 and "may not decide in environment dev (the sign-in grants: prod)" in notice(r), r.text
    assert_unchanged_and_nothing_ran(s, a)


def test_a_user_without_the_approve_role_cannot_decide(kc, server_with_page, hand):
    """9 on the page: operator (no dagmedic-approver role, so no dagmedic:approve scope) → 403."""
    s = server_with_page
    a = request_approval(kc, s)
    assert hand.sign_in(a, "operator").status_code == 200
    r = hand.decide(a)
    assert r.status_code == 403 and "lacks the dagmedic:approve scope" in notice(r), r.text
    assert_unchanged_and_nothing_ran(s, a)


def test_approver_tokens_and_the_cli_do_not_count_with_auth(kc, server_with_page, hand):
    """With auth: the token login is refused on the page (400) and `dagmedic approvals approve` without a
    `dagmedic login` is refused (it says to pass --server, then to log in) and records nothing."""
    s = server_with_page
    a = request_approval(kc, s)
    assert hand.sign_in(a, "approver1").status_code == 200
    r = hand.decide(a, extra={"approver": "approver1", "token": "t"})
    assert r.status_code == 400 and "Approver tokens are not accepted on this server" in notice(r), r.text
    # The CLI sends decisions to the server (tests/auth/test_cli_device_login.py): never into the store itself.
    cli = s.cli("approvals", "approve", a, "--reason", "from the CLI")
    assert cli.returncode == 1 and "pass --server URL" in cli.stderr, cli.stderr
    cli = s.cli("approvals", "approve", a, "--reason", "from the CLI", "--server", s.page)
    assert cli.returncode == 1 and "not logged in: run `dagmedic login` first" in cli.stderr, cli.stderr
    assert_unchanged_and_nothing_ran(s, a)


def test_n_of_m_counts_the_same_subject_once_under_two_usernames(kc, server_with_page):
    """prod needs 2: approver3 approves, is renamed at Keycloak (same subject, another preferred_username), signs in
    again → 409 "the same person (IdP subject …) already decided"; the approval stays pending at 1 of 2."""
    s = server_with_page
    token = kc.password_grant("opsapprover")["access_token"]
    a = request_approval(kc, s, "prod", token=token)
    b1 = Browserless(s)
    assert b1.sign_in(a, "approver3").status_code == 200
    r = b1.decide(a)
    assert "Approved by approver3 (1 of 2)" in notice(r), r.text
    b1.close()
    admin = kc.admin_token()
    uid = kc.admin_user_id(admin, "approver3")
    kc.admin_rename(admin, uid, "approver3b")
    K.PASSWORDS["approver3b"] = K.PASSWORDS["approver3"]
    try:
        b2 = Browserless(s)
        assert b2.sign_in(a, "approver3b").status_code == 200
        r = b2.decide(a)
        assert r.status_code == 409 and "the same person (IdP subject" in notice(r), r.text
        b2.close()
    finally:
        kc.admin_rename(admin, uid, "approver3")
    assert_unchanged_and_nothing_ran(s, a, decisions=1)
