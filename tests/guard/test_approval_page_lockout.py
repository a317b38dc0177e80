"""Failed logins on the approval page over real HTTP against `dagmedic approvals web`: every failure is audited
(claimed principal, approval id, source address, reason; never a token nor its hash), five failures lock the source
address / claimed approver out with 429 + Retry-After, the right token is refused during the lockout, and afterwards
`dagmedic audit export` shows the events and `dagmedic audit verify` is OK."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import subprocess
import time
import urllib.parse

from conftest import DAGMEDIC, TOKENS


def _start_web(ws) -> tuple[subprocess.Popen, int]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ws.root / "home-web"), **ws.env}
    p = subprocess.Popen([str(DAGMEDIC), "approvals", "web", "--port", "0", "--config", str(ws.config())], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    seen = ""
    while time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        seen += line
        m = re.search(r"approval page http://127\.0\.0\.1:(\d+)/approvals/", line)
        if m:
            return p, int(m.group(1))
    p.kill()
    p.wait()
    raise AssertionError(f"approvals web did not start:\n{seen}")


def _exchange(port: int, method: str, path: str, body: str = "", headers: dict | None = None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path, body=body.encode() if body else None, headers={"Host": f"127.0.0.1:{port}",
                                                                              **(headers or {})})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


def _decide(port: int, approval_id: str, who: str, token: str) -> tuple[int, dict, str]:
    path = f"/approvals/{approval_id}"
    status, headers, page = _exchange(port, "GET", path)
    assert status == 200, page
    cookie = re.search(r"dm_csrf=([0-9a-f]+)", headers.get("Set-Cookie", ""))
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert cookie and csrf, page[:2000]
    form = urllib.parse.urlencode({"csrf": csrf.group(1), "approver": who, "token": token,
                                   "reason": "checked the parameters", "decision": "approve"})
    return _exchange(port, "POST", path, form, {"Content-Type": "application/x-www-form-urlencoded",
                                                "Cookie": f"dm_csrf={cookie.group(1)}",
                                                "Origin": f"http://127.0.0.1:{port}"})


def test_failed_logins_are_audited_and_locked_out(workspace):
    s = workspace.mcp()
    c = s.call("request_approval", {"environment": "dev", "action": "trigger_dag",
                                    "params": {"dag_id": "zoo_ok", "conf": {"date": "2026-01-03"}},
                                    "reason": "rerun after the upstream fix"})
    assert not c.is_error, c.text
    approval_id = c["approval_id"]

    guesses = [f"guess-{i}-not-a-token" for i in range(4)]
    web, port = _start_web(workspace)
    try:
        status, _, page = _decide(port, approval_id, "Mallory", TOKENS["bob"])
        assert status == 401 and "Unknown approver or wrong token" in page, (status, page[:1000])
        for g in guesses[:3]:
            status, headers, page = _decide(port, approval_id, "bob", g)
            assert status == 401, (status, page[:1000])
            assert "Retry-After" not in headers
        # The 5th failure from this address locks it out.
        status, headers, page = _decide(port, approval_id, "bob", guesses[3])
        assert status == 429, (status, page[:1000])
        assert int(headers["Retry-After"]) == 300, headers
        assert "try again in 5 minutes" in page
        # The right token does not help during the lockout, for bob or anyone else from this address.
        for who in ("bob", "carol"):
            status, headers, page = _decide(port, approval_id, who, TOKENS[who])
            assert status == 429, (who, status, page[:1000])
            assert 1 <= int(headers["Retry-After"]) <= 300
    finally:
        web.terminate()
        web.wait(timeout=30)
    stderr = web.stderr.read()
    for t in [*guesses, *TOKENS.values()]:
        assert t not in stderr

    show = workspace.cli("approvals", "show", approval_id, "--json", check=True)
    assert json.loads(show.stdout)["state"] == "pending", show.stdout

    export = workspace.cli("audit", "export", check=True).stdout
    entries = [json.loads(line)["entry"] for line in export.splitlines() if line.strip()]
    failed = [e for e in entries if e["tool"] == "approval_page.auth_failed"]
    assert [(e["principal"], e["upstream_status"]) for e in failed] == [
        ("mallory", "unknown_approver"), ("bob", "wrong_token"), ("bob", "wrong_token"), ("bob", "wrong_token"),
        ("bob", "wrong_token"), ("bob", "locked_out"), ("carol", "locked_out")], failed
    for e in failed:
        assert e["approval_id"] == approval_id
        assert e["decision"] == "refused"
        assert "source 127.0.0.1" in e["upstream_summary"], e
    assert "now locked out for 300 s" in failed[4]["upstream_summary"], failed[4]
    # No token material anywhere in the audit: neither the tokens tried nor their SHA-256.
    for t in [*guesses, *TOKENS.values()]:
        assert t not in export
        assert hashlib.sha256(t.encode()).hexdigest() not in export
    assert "approved" not in [e.get("approval_event") for e in entries]
    workspace.verify_audit()
