"""The official MCP Python SDK doing OAuth itself against dagmedic and a real Keycloak (issue 14).

tests/auth/test_auth_keycloak.py fetches tokens from Keycloak by hand and gives them to the SDK. Here the SDK
(mcp 2.3.0, `mcp.client.auth`) is only told the server's URL and its client: it meets dagmedic's 401, reads the
`resource_metadata` URL of its WWW-Authenticate (RFC 9728), discovers Keycloak from it (RFC 8414 / OIDC discovery),
gets a token and retries — with `OAuthClientProvider` (authorization code + PKCE S256, the realm's public client
`dagmedic-cli`, pre-registered: its client information is in the SDK's token storage, so no dynamic registration)
and with `ClientCredentialsOAuthProvider` (the agents' confidential clients). For the code flow the SDK's
`redirect_handler` opens the authorization URL in headless Chromium (selenium), which signs in on Keycloak's real
login form; Keycloak redirects to a listener on 127.0.0.1 (the loopback redirect of a native client, RFC 8252), and
the `callback_handler` hands the SDK the code, state and iss from that redirect.

The SDK is pointed at the server's canonical URL, https://dagmedic.test/mcp (the `auth.audience`), as a client of
the deployment recipe of docs/security.md is (dagmedic behind a TLS-terminating proxy). The SDK's HTTP client gets
a transport that plays that proxy: requests for dagmedic.test go to the server on 127.0.0.1 over plain HTTP with
their Host header unchanged; requests for 127.0.0.1 (Keycloak) go as they are; any other host is refused. So the
SDK's own checks run unchanged (the metadata's `resource` matches the URL it was given, the RFC 8707 `resource` it
sends is the server's canonical URI). The transport records every request and answer: the tests count them.
Not exercised: TLS itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx2
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.shared.exceptions import MCPError

import keycloak as K
from conftest import METADATA_URL, RESOURCE, claims_of
from test_auth_keycloak import WRITE_TOOLS, challenge

PUBLIC_HOST = "dagmedic.test"  # the host of RESOURCE
LOG_TAIL = "Traceback (most recent call last):\n  File \"/dags/etl.py\", line 12, in load\nKeyError: 'customer_id'\n"


# ---- what the SDK is given: a transport standing for the TLS proxy, its token storage, a browser ----------------

@dataclass
class Sent:
    """One request the SDK's HTTP client sent (URL as the SDK built it) and the status it got."""

    method: str
    url: str
    headers: dict
    body: bytes
    status: int = 0
    www_authenticate: str | None = None

    @property
    def form(self) -> dict:
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def bearer(self) -> str | None:
        a = self.headers.get("authorization", "")
        return a[len("Bearer "):] if a.startswith("Bearer ") else None


class ProxyTransport(httpx2.AsyncBaseTransport):
    """https://dagmedic.test/… → the server's http://127.0.0.1:<port>/… (Host kept); 127.0.0.1 as is; others
    refused."""

    def __init__(self, server_port: int) -> None:
        self.port = server_port
        self.inner = httpx2.AsyncHTTPTransport()
        self.sent: list[Sent] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        s = Sent(request.method, str(request.url), {k.lower(): v for k, v in request.headers.items()}, body)
        self.sent.append(s)
        if request.url.host == PUBLIC_HOST:
            assert request.url.scheme == "https", request.url
            assert s.headers.get("host") == PUBLIC_HOST, s.headers
            # A copy: the SDK re-sends its own request object after getting a token.
            request = httpx2.Request(request.method, request.url.copy_with(scheme="http", host="127.0.0.1",
                                                                           port=self.port),
                                     headers=request.headers, content=body, extensions=request.extensions)
        elif request.url.host != "127.0.0.1":
            raise httpx2.ConnectError(f"the test network has no host {request.url.host}", request=request)
        response = await self.inner.handle_async_request(request)
        s.status = response.status_code
        s.www_authenticate = response.headers.get("www-authenticate")
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def to_server(self) -> list[Sent]:
        return [s for s in self.sent if s.url.startswith(f"https://{PUBLIC_HOST}/mcp")]


class Storage:
    """The SDK's TokenStorage, in memory; `client_info` is the pre-registered client (None: the SDK must register)."""

    def __init__(self, client_info: OAuthClientInformationFull | None = None) -> None:
        self.client_info = client_info
        self.tokens: OAuthToken | None = None
        self.history: list[OAuthToken] = []
        self.client_info_writes = 0

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        self.history.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info
        self.client_info_writes += 1


class Loopback:
    """The redirect URI's listener on 127.0.0.1 that a native MCP client runs (RFC 8252 §7.3): records each
    /callback request Chromium is redirected to."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path.startswith("/callback"):
                    hits.append(self.path)
                body = b"<html><body><p id='done'>Signed in; return to the MCP client.</p></body></html>"
                self.send_response(200 if self.path.startswith("/callback") else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.redirect_uri = f"http://127.0.0.1:{self.httpd.server_address[1]}/callback"
        self._t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._t.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Person:
    """A person at an MCP client: the SDK's redirect_handler opens the authorization URL in Chromium, which signs in
    on Keycloak's form as `user` (or passes through when Keycloak's session cookie already signs it in); the
    callback_handler reads the code from the loopback redirect."""

    driver: object
    kc: K.Keycloak
    loopback: Loopback
    user: str
    authorization_urls: list[str] = field(default_factory=list)
    forms_filled: int = 0

    def _sign_in(self, url: str) -> None:
        from selenium.common.exceptions import TimeoutException, WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        d = self.driver
        before = len(self.loopback.hits)
        wait = WebDriverWait(d, 60, poll_frequency=0.1, ignored_exceptions=(WebDriverException,))

        def page() -> str:
            return f"at {d.current_url}: {d.find_element(By.TAG_NAME, 'body').text[:1500]}"

        d.get(url)
        try:
            wait.until(lambda d: len(self.loopback.hits) > before or d.find_elements(By.ID, "username"))
            if len(self.loopback.hits) == before:
                assert d.current_url.startswith(self.kc.issuer + "/"), d.current_url  # Keycloak's own form
                d.find_element(By.ID, "username").send_keys(self.user)
                d.find_element(By.ID, "password").send_keys(K.PASSWORDS[self.user])
                d.find_element(By.ID, "kc-login").click()
                self.forms_filled += 1
                wait.until(lambda d: len(self.loopback.hits) > before)
        except TimeoutException:
            raise AssertionError(f"no redirect to {self.loopback.redirect_uri} after 60 s; {page()}") from None

    async def redirect_handler(self, url: str) -> None:
        self.authorization_urls.append(url)
        await anyio.to_thread.run_sync(self._sign_in, url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.loopback.hits[-1]).query)
        assert "error" not in q, q
        return AuthorizationCodeResult(code=q["code"][0], state=q.get("state", [None])[0],
                                       iss=q.get("iss", [None])[0])


@pytest.fixture
def loopback():
    lb = Loopback()
    yield lb
    lb.close()


def signed_out(driver) -> None:
    """A fresh browser for the next person: Keycloak's session cookies (every site's) dropped."""
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})


def public_client(redirect_uri: str, issuer: str) -> tuple[OAuthClientMetadata, OAuthClientInformationFull]:
    """The realm's public client dagmedic-cli (PKCE S256, redirect http://127.0.0.1/* any port), pre-registered:
    its record goes into the SDK's storage, bound to the issuer it is registered at.

    Grant types: authorization_code only. With refresh_token listed the SDK adds `offline_access` to the scope it
    asks (SEP-2207) because Keycloak advertises it, and Keycloak answers invalid_scope: dagmedic-cli has no
    offline_access client scope in the test realm (docs/security.md, deployment recipe)."""
    meta = OAuthClientMetadata(client_name="dagmedic SDK test", redirect_uris=[redirect_uri],
                               token_endpoint_auth_method="none", grant_types=["authorization_code"])
    info = OAuthClientInformationFull(client_id=K.PUBLIC_CLIENT, redirect_uris=[redirect_uri],
                                      token_endpoint_auth_method="none", grant_types=["authorization_code"],
                                      issuer=issuer)
    return meta, info


def sdk_client(server, auth: httpx2.Auth) -> tuple[httpx2.AsyncClient, ProxyTransport]:
    """The SDK's HTTP client (create_mcp_http_client's timeouts) with the OAuth provider and the proxy transport."""
    proxy = ProxyTransport(server.port)
    return httpx2.AsyncClient(auth=auth, transport=proxy, timeout=httpx2.Timeout(30.0, read=300.0)), proxy


def b64url_sha256(s: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest()).rstrip(b"=").decode()


def audiences(token: str) -> list[str]:
    aud = claims_of(token)["aud"]
    return aud if isinstance(aud, list) else [aud]


def assert_discovered_then_retried(kc, proxy: ProxyTransport, grant: str) -> Sent:
    """The first request went without a token and got dagmedic's 401; the SDK then read the resource_metadata URL
    of that 401, found Keycloak's metadata, made exactly one token request (no registration) and retried the
    request with the token it got. Returns the token request."""
    first = proxy.sent[0]
    assert first.method == "POST" and first.url == RESOURCE and first.bearer is None, first
    assert first.status == 401 and first.www_authenticate == challenge(scope="dagmedic:read"), first
    assert f'resource_metadata="{METADATA_URL}"' in first.www_authenticate
    prm = proxy.sent[1]
    assert (prm.method, prm.url, prm.status) == ("GET", METADATA_URL, 200), prm
    token_requests = [s for s in proxy.sent if s.url == kc.token_endpoint]
    assert len(token_requests) == 1, [(s.method, s.url) for s in proxy.sent]
    tr = token_requests[0]
    i = proxy.sent.index(tr)
    # Between the metadata and the token request: one GET, Keycloak's RFC 8414 metadata at the path-inserted URL
    # built from the issuer the metadata named.
    discovery = [(s.method, s.url, s.status) for s in proxy.sent[2:i]]
    assert discovery == [("GET", f"{kc.base}/.well-known/oauth-authorization-server/realms/{K.REALM}", 200)], \
        discovery
    assert not [s for s in proxy.sent if "clients-registrations" in s.url or s.url.endswith("/register")]
    assert tr.method == "POST" and tr.status == 200 and tr.form["grant_type"] == grant, tr.form
    assert tr.form["resource"] == RESOURCE, tr.form  # RFC 8707: the canonical URI from the metadata
    retry = proxy.sent[i + 1]
    assert retry.method == "POST" and retry.url == RESOURCE and retry.body == first.body, retry
    assert retry.bearer and retry.status == 200, retry
    return tr


async def runbook_path(s: ClientSession, server, airflow_socket, token: str, principal: str) -> None:
    """Detect → diagnose → remediate in dev, as far as it goes without a working Airflow and without an approver:
    the write tool answers that it needs an approval and nothing runs; the caller's token never reaches Airflow."""
    names = {t.name for t in (await s.list_tools()).tools}
    assert WRITE_TOOLS <= names, names
    before = len(airflow_socket.requests)
    r = await s.call_tool("get_latest_run", {"dag_id": "etl", "environment": "dev"})
    assert r.is_error and "may not act" not in str(r.content), r.content  # the door let it through to "Airflow"
    r = await s.call_tool("extract_errors", {"log_tail": LOG_TAIL})
    assert not r.is_error, r.content
    err = r.structured_content
    assert err["exception_type"] == "KeyError" and err["signature"], err
    r = await s.call_tool("propose_action", {"signature": err["signature"],
                                             "context": {"dag_id": "etl", "log_tail": LOG_TAIL}})
    assert not r.is_error, r.content
    assert r.structured_content["category_source"] == "context", r.structured_content
    # The write without an approval: an approval is requested, nothing runs.
    r = await s.call_tool("trigger_dag", {"dag_id": "etl", "environment": "dev"})
    assert r.is_error, r.content
    text = r.content[0].text
    m = re.search(r"trigger_dag needs an approval: approval ([0-9a-f]{32}) is pending", text)
    assert m and text.endswith("Nothing ran."), text
    # request_approval, then trigger_dag with the pending approval: refused, nothing runs.
    r = await s.call_tool("request_approval", {"environment": "dev", "action": "trigger_dag",
                                               "params": {"dag_id": "etl"}, "reason": "rerun after the fix"})
    assert not r.is_error, r.content
    approval = r.structured_content
    assert approval["state"] == "pending", approval
    r = await s.call_tool("trigger_dag", {"dag_id": "etl", "environment": "dev",
                                          "approval_id": approval["approval_id"]})
    assert r.is_error, r.content
    assert f"refused: approval {approval['approval_id']}" in r.content[0].text, r.content
    assert "Nothing ran." in r.content[0].text, r.content
    sent = airflow_socket.requests[before:]
    assert sent, "dagmedic did not reach the Airflow address at all"
    assert not [raw for raw in sent if raw.startswith(b"POST ")], sent  # no run triggered, nothing cleared
    for raw in sent:
        assert token.encode() not in raw and token.split(".")[2].encode() not in raw
    # Both approvals stay pending (none consumed), and the audit tells the same: each trigger_dag is the door's
    # `call` entry (a write is recorded before it may run) closed by an `error` entry that says nothing ran.
    for aid in (m.group(1), approval["approval_id"]):
        shown = server.cli("approvals", "show", aid, "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["state"] == "pending", shown.stdout
    entries = server.audit_entries()
    mine = [e for e in entries if e["principal"] == principal]
    assert {"get_latest_run", "extract_errors", "propose_action", "trigger_dag", "request_approval"} <= \
        {e["tool"] for e in mine}, mine
    triggers = [e for e in mine if e["tool"] == "trigger_dag"]
    assert [e["decision"] for e in triggers] == ["call", "error", "call", "error"], triggers
    assert all(e["ran"] == "" for e in triggers), triggers
    summaries = [e["upstream_summary"] for e in triggers if e["decision"] == "error"]  # (the audit shortens them)
    assert summaries[0].startswith(f"trigger_dag needs an approval: approval {m.group(1)} is pending"), summaries
    assert summaries[1].startswith(f"trigger_dag refused: approval {approval['approval_id']}: "), summaries
    v = server.audit_verify()
    assert v.returncode == 0, v.stdout + v.stderr


def assert_refused_before_the_door(server, principal: str) -> None:
    """The 403 stopped the write at the HTTP layer: no audit entry of this caller for trigger_dag at all (the door
    never saw it), and the chain verifies."""
    entries = server.audit_entries()
    assert not [e for e in entries if e["tool"] == "trigger_dag" and e["principal"] == principal], entries
    v = server.audit_verify()
    assert v.returncode == 0, v.stdout + v.stderr


# ---- authorization code + PKCE, Chromium through Keycloak's login form -----------------------------------------

@pytest.mark.anyio
async def test_sdk_authorization_code_pkce_operator_runs_the_runbook(kc, server, airflow_socket, browser, loopback):
    signed_out(browser)
    person = Person(browser, kc, loopback, "operator")
    meta, info = public_client(loopback.redirect_uri, kc.issuer)
    storage = Storage(info)
    provider = OAuthClientProvider(RESOURCE, meta, storage, redirect_handler=person.redirect_handler,
                                   callback_handler=person.callback_handler)
    http, proxy = sdk_client(server, provider)
    async with http:
        async with streamable_http_client(RESOURCE, http_client=http) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=60) as s:
                await s.initialize()
                # One sign-in, through the form; the SDK used the stored client and registered nothing.
                assert len(person.authorization_urls) == 1 and person.forms_filled == 1
                assert storage.client_info_writes == 0 and storage.client_info.client_id == K.PUBLIC_CLIENT
                tr = assert_discovered_then_retried(kc, proxy, "authorization_code")
                # PKCE S256: the challenge Keycloak got is SHA-256 of the verifier the SDK sent with the code.
                url = person.authorization_urls[0]
                assert url.startswith(kc.issuer + "/protocol/openid-connect/auth?"), url
                q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}
                assert q["code_challenge_method"] == "S256", q
                assert q["code_challenge"] == b64url_sha256(tr.form["code_verifier"]), (q, tr.form)
                assert 43 <= len(tr.form["code_verifier"]) <= 128
                assert q["client_id"] == K.PUBLIC_CLIENT and q["response_type"] == "code", q
                assert q["redirect_uri"] == loopback.redirect_uri and q["state"], q
                assert q["resource"] == RESOURCE, q
                assert q["scope"] == "dagmedic:read", q  # the scope of dagmedic's 401 challenge
                assert tr.form["client_id"] == K.PUBLIC_CLIENT and "client_secret" not in tr.form, tr.form
                assert "authorization" not in tr.headers, tr.headers  # a public client: no secret anywhere
                cb = urllib.parse.parse_qs(urllib.parse.urlsplit(loopback.hits[0]).query)
                assert cb["iss"] == [kc.issuer] and cb["state"] == [q["state"]], cb  # RFC 9207 iss, checked by the SDK
                assert tr.form["code"] == cb["code"][0]
                # The token the SDK got: Keycloak's, for dagmedic's audience, the operator's, through dagmedic-cli.
                token = storage.tokens.access_token
                c = claims_of(token)
                assert RESOURCE in audiences(token), c
                assert c["iss"] == kc.issuer and c["azp"] == K.PUBLIC_CLIENT, c
                assert c["preferred_username"] == "operator" and c["groups"] == ["env:dev"], c
                assert {"dagmedic:read", "dagmedic:operate"} <= set(c["scope"].split()), c
                await runbook_path(s, server, airflow_socket, token, "agent:dagmedic-cli for operator")
    # Every request to dagmedic after the first carried exactly that token; one 401 in all, no refresh, no re-login.
    to_server = proxy.to_server()
    assert [x.status for x in to_server].count(401) == 1
    assert all(x.bearer == token for x in to_server[1:]), [(x.method, x.status) for x in to_server]
    assert len(person.authorization_urls) == 1 and len(storage.history) == 1


@pytest.mark.anyio
async def test_sdk_authorization_code_reader_gets_403_insufficient_scope_and_step_up_grants_nothing(
        kc, server, browser, loopback):
    """The reader signs in the same way: no write tool is listed. Calling trigger_dag anyway: dagmedic answers 403
    insufficient_scope (scope="dagmedic:operate"); the SDK steps up (MCP SEP-2350: a new authorization asking the
    union of the scopes) and Keycloak, which gives dagmedic:operate only to holders of the operator role, issues a
    token without it; the retry is refused with the same 403, the call fails, nothing ran."""
    signed_out(browser)
    person = Person(browser, kc, loopback, "reader")
    meta, info = public_client(loopback.redirect_uri, kc.issuer)
    storage = Storage(info)
    provider = OAuthClientProvider(RESOURCE, meta, storage, redirect_handler=person.redirect_handler,
                                   callback_handler=person.callback_handler)
    http, proxy = sdk_client(server, provider)
    async with http:
        async with streamable_http_client(RESOURCE, http_client=http) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=60) as s:
                await s.initialize()
                assert_discovered_then_retried(kc, proxy, "authorization_code")
                first = storage.tokens.access_token
                assert claims_of(first)["scope"].split() == ["dagmedic:read"], claims_of(first)
                assert RESOURCE in audiences(first)
                names = {t.name for t in (await s.list_tools()).tools}
                assert names and not (names & WRITE_TOOLS), names
                n = len(proxy.sent)
                with pytest.raises(MCPError):
                    await s.call_tool("trigger_dag", {"dag_id": "etl", "environment": "dev"})
                # The step-up: 403 → authorization asking for more → token → the same call again → 403.
                after = proxy.sent[n:]
                calls = [x for x in after if x.url == RESOURCE]
                assert [x.status for x in calls] == [403, 403], [(x.url, x.status) for x in after]
                for x in calls:
                    assert x.www_authenticate == challenge(
                        error="insufficient_scope", scope="dagmedic:operate",
                        error_description="this request needs the scope dagmedic:operate"), x.www_authenticate
                assert calls[0].body == calls[1].body
                assert calls[0].bearer == first and calls[1].bearer == storage.tokens.access_token != first
                assert len(person.authorization_urls) == 2, person.authorization_urls
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(person.authorization_urls[1]).query)
                assert q["scope"] == ["dagmedic:read dagmedic:operate"], q  # what it had, and what the 403 named
                assert q["code_challenge_method"] == ["S256"], q
                assert len([x for x in after if x.url == kc.token_endpoint]) == 1
                c = claims_of(storage.tokens.access_token)
                assert c["preferred_username"] == "reader" and c["scope"].split() == ["dagmedic:read"], c
    assert_refused_before_the_door(server, "agent:dagmedic-cli for reader")


# ---- client credentials, done by the SDK's ClientCredentialsOAuthProvider ------------------------------------

@pytest.mark.anyio
async def test_sdk_client_credentials_provider_agent_runs_the_runbook(kc, server, airflow_socket):
    storage = Storage()
    provider = ClientCredentialsOAuthProvider(RESOURCE, storage, client_id=K.AGENT[0], client_secret=K.AGENT[1],
                                              issuer=kc.issuer)
    http, proxy = sdk_client(server, provider)
    async with http:
        async with streamable_http_client(RESOURCE, http_client=http) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=60) as s:
                await s.initialize()
                tr = assert_discovered_then_retried(kc, proxy, "client_credentials")
                basic = base64.b64encode(f"{K.AGENT[0]}:{K.AGENT[1]}".encode()).decode()
                assert tr.headers["authorization"] == f"Basic {basic}", tr.headers  # client_secret_basic
                assert "client_secret" not in tr.form and tr.form["scope"] == "dagmedic:read", tr.form
                token = storage.tokens.access_token
                c = claims_of(token)
                assert RESOURCE in audiences(token) and c["azp"] == K.AGENT[0] and c["iss"] == kc.issuer, c
                await runbook_path(s, server, airflow_socket, token,
                                   "agent:dagmedic-agent for service-account-dagmedic-agent")
    to_server = proxy.to_server()
    assert [x.status for x in to_server].count(401) == 1
    assert all(x.bearer == token for x in to_server[1:])


@pytest.mark.anyio
async def test_sdk_client_credentials_reader_agent_step_up_is_refused_403(kc, server):
    storage = Storage()
    provider = ClientCredentialsOAuthProvider(RESOURCE, storage, client_id=K.READER_AGENT[0],
                                              client_secret=K.READER_AGENT[1], issuer=kc.issuer)
    http, proxy = sdk_client(server, provider)
    async with http:
        async with streamable_http_client(RESOURCE, http_client=http) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=60) as s:
                await s.initialize()
                assert_discovered_then_retried(kc, proxy, "client_credentials")
                names = {t.name for t in (await s.list_tools()).tools}
                assert names and not (names & WRITE_TOOLS), names
                n = len(proxy.sent)
                with pytest.raises(MCPError):
                    await s.call_tool("trigger_dag", {"dag_id": "etl", "environment": "dev"})
                after = proxy.sent[n:]
                assert [(x.url, x.status) for x in after] == [
                    (RESOURCE, 403), (kc.token_endpoint, 200), (RESOURCE, 403)], [(x.url, x.status) for x in after]
                assert after[0].www_authenticate == after[2].www_authenticate == challenge(
                    error="insufficient_scope", scope="dagmedic:operate",
                    error_description="this request needs the scope dagmedic:operate")
                assert set(after[1].form["scope"].split()) == {"dagmedic:read", "dagmedic:operate"}, after[1].form
                assert claims_of(storage.tokens.access_token)["scope"].split() == ["dagmedic:read"]
                assert len(storage.history) == 2
    assert_refused_before_the_door(server, "agent:dagmedic-reader-agent for service-account-dagmedic-reader-agent")
