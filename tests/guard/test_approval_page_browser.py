"""The approval page in a real headless Chromium (Debian chromium + chromedriver, selenium): an approval requested by
an agent over MCP is shown with its exact parameters, approved by a human with a valid token, refused with a wrong
token or the requester's (agent) identity, and an XSS attempt in a conf string is shown as text (no script runs)."""

from __future__ import annotations

import json
import re
import shutil
import tempfile

import pytest
from conftest import TOKENS

XSS = "<script>window.__pwned=1;document.title='PWNED'</script><img src=x onerror=\"window.__pwned=2\">"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver_bin = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    profile = tempfile.mkdtemp(prefix="dm-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(driver_bin), options=opts)
    d.set_page_load_timeout(30)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _page_url(session, call) -> str:
    url = call.structured.get("approval_url") if isinstance(call.structured, dict) else None
    if url:
        return url
    m = re.search(r"approval page (http://\S+?)/approvals/", session.stderr())
    assert m, f"no approval page URL: {call.text}\n{session.stderr()[-1000:]}"
    return f"{m.group(1)}/approvals/{call['approval_id']}"


def _request(session, conf: dict) -> tuple[str, str]:
    c = session.call("request_approval", {"environment": "dev", "action": "trigger_dag",
                                          "params": {"dag_id": "zoo_ok", "conf": conf},
                                          "reason": "rerun after the upstream fix"})
    assert not c.is_error, c.text
    return c["approval_id"], _page_url(session, c)


def _decide(browser, url: str, who: str, token: str, decision: str = "approve") -> str:
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    browser.find_element(By.ID, "approver").send_keys(who)
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "decision-reason").send_keys("looked at the conf")

    # A click does not always wait for the POST's answer: mark this document, then wait until a new, fully loaded
    # document (the answer) replaced it. (staleness_of is not enough: while the old page goes away Chromium may
    # answer with a plain WebDriverException, which it does not ignore.)
    browser.execute_script("window.__dm_old_page = true")
    browser.find_element(By.ID, decision).click()
    wait = WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,))
    try:
        wait.until(lambda d: d.execute_script(
            "return window.__dm_old_page === undefined && document.readyState === 'complete'"))
        return wait.until(ec.presence_of_element_located((By.ID, "notice"))).text
    except TimeoutException:
        raise AssertionError(f"no notice after {decision} as {who}:\n{browser.page_source[:2000]}") from None


def _no_alert(browser) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        browser.switch_to.alert
        return False
    except NoAlertPresentException:
        return True


def test_page_shows_exact_parameters_and_xss_is_inert_then_approve(workspace, browser):
    from selenium.webdriver.common.by import By

    s = workspace.mcp(approval_port=True)
    approval_id, url = _request(s, {"note": XSS, "date": "2026-01-01"})
    assert url.startswith("http://127.0.0.1:")
    browser.get(url)
    assert browser.find_element(By.ID, "action").text == "trigger_dag"
    assert browser.find_element(By.ID, "dag_id").text == "zoo_ok"
    assert browser.find_element(By.ID, "environment").text.startswith("dev")
    assert "agent:mcp" in browser.find_element(By.ID, "requester").text
    assert browser.find_element(By.ID, "state").text == "pending"
    conf_text = browser.find_element(By.ID, "conf-json").text
    # Shown literally, as text: the pretty JSON parses back to exactly the approved string (its quotes are
    # JSON-escaped, so compare the decoded value, not the raw text).
    assert json.loads(conf_text)["note"] == XSS, conf_text
    assert "<script>window.__pwned=1;" in conf_text
    assert '"date": "2026-01-01"' in conf_text
    shown_hash = browser.find_element(By.ID, "params_hash").text
    assert re.fullmatch(r"[0-9a-f]{64}", shown_hash)
    # No script ran: no alert, no marker, title intact, no <script>/<img> element created from the conf.
    assert _no_alert(browser)
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.title != "PWNED"
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert browser.find_elements(By.TAG_NAME, "img") == []

    notice = _decide(browser, url, "Bob", TOKENS["bob"])
    assert "Approved by bob (1 of 1)" in notice, notice
    assert browser.find_element(By.ID, "state").text == "approved"
    assert browser.find_element(By.ID, "params_hash").text == shown_hash
    assert TOKENS["bob"] not in browser.page_source
    show = workspace.cli("approvals", "show", approval_id)
    assert show.returncode == 0 and "approved" in show.stdout, show.stdout + show.stderr
    workspace.verify_audit()


def test_wrong_token_and_requester_identity_are_refused(workspace, browser):
    from selenium.webdriver.common.by import By

    s = workspace.mcp(approval_port=True)
    _, url = _request(s, {"date": "2026-01-02"})
    notice = _decide(browser, url, "bob", TOKENS["carol"])
    assert "Unknown approver or wrong token" in notice, notice
    assert browser.find_element(By.ID, "state").text == "pending"
    notice = _decide(browser, url, "nobody", TOKENS["bob"])
    assert "Unknown approver or wrong token" in notice, notice
    # The requester is the agent (agent:mcp): refused by the guard, whose message is shown.
    notice = _decide(browser, url, "agent:mcp", TOKENS["agent:mcp"])
    assert "cannot approve" in notice, notice
    assert browser.find_element(By.ID, "state").text == "pending"
    assert "none yet" in browser.find_element(By.ID, "decisions").text
    # Deny as a human: final; the form is gone.
    notice = _decide(browser, url, "carol", TOKENS["carol"], "deny")
    assert "Denied by carol" in notice, notice
    assert browser.find_element(By.ID, "state").text == "denied"
    assert browser.find_elements(By.ID, "approve") == []
    workspace.verify_audit()
