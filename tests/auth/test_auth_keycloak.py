"""`dagmedic serve --transport http` as an OAuth 2.1 resource server, against a real Keycloak (issue 14).

The official MCP Python SDK gets its tokens from Keycloak (client credentials for agents, the password grant of the
test realm's public client for people) and lists and calls tools; every attack asserts the exact HTTP status and
WWW-Authenticate answer, and, where a write was attempted, that nothing ran and `audit verify` stays OK.
docs/security.md has the table of these attacks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import time

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

import keycloak as K
from conftest import DAGMEDIC, METADATA_URL, RESOURCE, b64url, claims_of

# What a reader is served: every tool whose effect is `reads` (docs/runbook.md).
WRITE_TOOLS = {"request_approval", "trigger_dag", "clear_failed_tasks", "generate_postmortem"}
POST_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "attack", "version": "1"}}}


def challenge(**params: str) -> str:
    """The WWW-Authenticate value dagmedic sends: params in order (RFC 7230 quoted-strings), then
    resource_metadata."""
    def quoted(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    parts = [f"{k}={quoted(v)}" for k, v in params.items()] + [f'resource_metadata="{METADATA_URL}"']
    return "Bearer " + ", ".join(parts)


def invalid_token(description: str) -> str:
    return challenge(error="invalid_token", error_description=description)


def post(server, body: dict, token: str | None = None, headers: dict | None = None, path: str = "/mcp",
         session: str | None = None) -> httpx.Response:
    h = dict(POST_HEADERS)
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if session:
        h["Mcp-Session-Id"] = session
    h.update(headers or {})
    return httpx.post(f"http://127.0.0.1:{server.port}{path}", json=body, headers=h, timeout=30)


def call_body(tool: str, args: dict, rid: int = 2) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": tool, "arguments": args}}


def open_session(server, token: str) -> str:
    r = post(server, INIT, token)
    assert r.status_code == 200, (r.status_code, r.text)
    sid = r.headers["mcp-session-id"]
    post(server, {"jsonrpc": "2.0", "method": "notifications/initialized"}, token, session=sid)
    return sid


def assert_nothing_ran(server, tool: str) -> None:
    """No fail-closed `call` entry (written before any Airflow write) for `tool`, and the chain verifies."""
    entries = server.audit_entries()
    assert not [e for e in entries if e["tool"] == tool and e["decision"] == "call"], entries
    v = server.audit_verify()
    assert v.returncode == 0, v.stdout + v.stderr


async def sdk_tools(server, token: str) -> set[str]:
    """The tools the official SDK client is listed with this token."""
    async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http:
        async with streamable_http_client(server.url, http_client=http) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=60) as s:
                await s.initialize()
                return {t.name for t in (await s.list_tools()).tools}


# ---- the official SDK, with tokens from Keycloak ---------------------------------------------------------------

@pytest.mark.anyio
async def test_sdk_agent_with_client_credentials_lists_and_calls_tools(kc, server):
    token = kc.client_credentials(K.AGENT)["access_token"]
    assert claims_of(token)["aud"] == RESOURCE
    async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http:
        async with streamable_http_client(server.url, http_client=http) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=60) as s:
                await s.initialize()
                names = {t.name for t in (await s.list_tools()).tools}
                assert WRITE_TOOLS <= names, names  # an operator agent: the write tools are listed
                assert {"extract_errors", "get_latest_run", "propose_action"} <= names
                r = await s.call_tool("extract_errors", {"log_tail": "Traceback (most recent call last):\n"
                                                                     "KeyError: 'customer_id'\n"})
                assert not r.is_error, r.content
                assert r.structured_content["exception_type"] == "KeyError"
    who = [e["principal"] for e in server.audit_entries() if e["tool"] == "extract_errors"]
    assert who and who[-1] == "agent:dagmedic-agent for service-account-dagmedic-agent", who


@pytest.mark.anyio
@pytest.mark.parametrize("client,alg", [(K.AGENT_ES256, "ES256"), (K.AGENT_EDDSA, "EdDSA")])
async def test_sdk_tokens_keycloak_signs_with_es256_and_eddsa_are_accepted(kc, server, client, alg):
    token = kc.client_credentials(client)["access_token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == alg
    names = await sdk_tools(server, token)
    assert names and not (names & WRITE_TOOLS), names  # these agents hold only the reader role


@pytest.mark.anyio
async def test_sdk_reader_agent_sees_only_read_tools_and_a_write_call_is_refused(kc, server):
    token = kc.client_credentials(K.READER_AGENT)["access_token"]
    assert claims_of(token)["scope"].split() == ["dagmedic:read"]  # no operator role: no operate scope
    async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http:
        async with streamable_http_client(server.url, http_client=http) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=60) as s:
                await s.initialize()
                names = {t.name for t in (await s.list_tools()).tools}
                assert not (names & WRITE_TOOLS), names & WRITE_TOOLS
                assert "get_latest_run" in names
    # Calling a write tool anyway (it is not listed): 403 naming the scope it needs.
    sid = open_session(server, token)
    r = post(server, call_body("trigger_dag", {"dag_id": "etl", "environment": "dev"}), token, session=sid)
    assert r.status_code == 403, r.text
    assert r.headers["www-authenticate"] == challenge(
        error="insufficient_scope", scope="dagmedic:operate",
        error_description="this request needs the scope dagmedic:operate")
    assert_nothing_ran(server, "trigger_dag")


@pytest.mark.anyio
async def test_reader_user_gets_the_read_tools_only(kc, server):
    token = kc.password_grant("reader")["access_token"]
    c = claims_of(token)
    assert c["preferred_username"] == "reader" and c["azp"] == K.PUBLIC_CLIENT
    names = await sdk_tools(server, token)
    assert names and not (names & WRITE_TOOLS), names


def test_operator_in_dev_cannot_act_in_prod_and_nothing_runs(kc, server):
    token = kc.password_grant("operator")["access_token"]
    assert claims_of(token)["groups"] == ["env:dev"]
    sid = open_session(server, token)
    for rid, (tool, args) in enumerate([
        ("get_latest_run", {"dag_id": "etl", "environment": "prod"}),
        ("trigger_dag", {"dag_id": "etl", "environment": "prod"}),
        ("request_approval", {"environment": "prod", "action": "trigger_dag", "params": {"dag_id": "etl"},
                              "reason": "rerun"}),
    ], start=10):
        r = post(server, call_body(tool, args, rid), token, session=sid)
        assert r.status_code == 200, r.text
        res = r.json()["result"]
        assert res["isError"] is True, res
        assert res["content"][0]["text"] == (
            f"{tool} refused: operator may not act in environment prod (the token grants: dev); "
            "nothing was run."), res
    refused = [e for e in server.audit_entries() if e["decision"] == "refused" and
               e["principal"] == "agent:dagmedic-cli for operator"]
    assert {e["tool"] for e in refused} >= {"get_latest_run", "trigger_dag", "request_approval"}, refused
    assert_nothing_ran(server, "trigger_dag")
    # In dev the door lets the operator through (the call then meets the unreachable Airflow).
    r = post(server, call_body("get_latest_run", {"dag_id": "etl", "environment": "dev"}, 20), token, session=sid)
    assert "may not act" not in r.text


def test_the_callers_token_is_never_forwarded_to_airflow(kc, server, airflow_socket):
    token = kc.password_grant("operator")["access_token"]
    sid = open_session(server, token)
    before = len(airflow_socket.requests)
    r = post(server, call_body("get_latest_run", {"dag_id": "etl", "environment": "dev"}), token, session=sid)
    assert r.status_code == 200, r.text
    sent = airflow_socket.requests[before:]
    assert sent, "dagmedic did not reach the Airflow address at all"
    for raw in sent:
        assert token.encode() not in raw
        assert token.split(".")[2].encode() not in raw
        assert b"authorization: bearer ey" not in raw.lower(), raw[:400]


def test_session_opened_by_one_caller_is_refused_to_another(kc, server):
    op = kc.password_grant("operator")["access_token"]
    reader = kc.password_grant("reader")["access_token"]
    sid = open_session(server, op)
    r = post(server, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, reader, session=sid)
    assert r.status_code == 404, r.text


# ---- attacks on the token --------------------------------------------------------------------------------------

def test_no_token_gets_401_with_resource_metadata(server):
    r = post(server, INIT)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == challenge(scope="dagmedic:read")
    r = httpx.get(server.url, headers={"Accept": "text/event-stream"}, timeout=30)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == challenge(scope="dagmedic:read")


def test_protected_resource_metadata_is_served_at_both_paths(kc, server):
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        r = httpx.get(f"http://127.0.0.1:{server.port}{path}", timeout=30)
        assert r.status_code == 200, path
        assert r.json() == {"resource": RESOURCE, "authorization_servers": [kc.issuer],
                            "scopes_supported": ["dagmedic:read", "dagmedic:operate", "dagmedic:approve"],
                            "bearer_methods_supported": ["header"], "resource_name": "dagmedic"}


def test_expired_token_is_refused(server, forger):
    now = int(time.time())
    r = post(server, INIT, forger.sign(forger.claims(iat=now - 900, exp=now - 600)))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == invalid_token("the token has expired")


def test_token_not_yet_valid_is_refused(server, forger):
    r = post(server, INIT, forger.sign(forger.claims(nbf=int(time.time()) + 600)))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == invalid_token("the token is not valid yet (nbf)")


def test_wrong_issuer_is_refused(kc, server, forger):
    r = post(server, INIT, forger.sign(forger.claims(iss=f"{kc.base}/realms/other")))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == invalid_token("wrong issuer (iss)")


def test_token_for_another_resource_is_refused(kc, server, forger):
    # A real Keycloak token, issued to another resource server's client.
    token = kc.client_credentials(K.OTHER_SERVICE)["access_token"]
    assert claims_of(token)["aud"] == "https://other.example/api"
    r = post(server, INIT, token)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == invalid_token("the token is not meant for this server (aud)")
    r = post(server, INIT, forger.sign(forger.claims(aud=["account", "https://dagmedic.test/mcp/other"])))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == invalid_token("the token is not meant for this server (aud)")


def test_alg_none_is_refused(server, forger):
    body = b64url(json.dumps(forger.claims()).encode())
    for alg in ("none", "None", "NONE"):
        token = f"{b64url(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{body}."
        for t in (token, token + "AA"):  # empty signature, and some signature bytes
            r = post(server, INIT, t)
            assert r.status_code == 401, alg
            assert r.headers["www-authenticate"] == invalid_token('alg "none" is never accepted')


def test_hs256_signed_with_the_public_key_is_refused(kc, server, forger):
    import urllib.request
    jwk = next(k for k in json.loads(urllib.request.urlopen(kc.jwks_uri, timeout=10).read())["keys"]
               if k.get("kid") == forger.kid)
    pub_pem = forger.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": forger.kid}).encode())
    data = f"{header}.{b64url(json.dumps(forger.claims()).encode())}"
    for secret in (pub_pem, json.dumps(jwk).encode(), base64.urlsafe_b64decode(jwk["n"] + "==")):
        token = f"{data}.{b64url(hmac.new(secret, data.encode(), hashlib.sha256).digest())}"
        r = post(server, INIT, token)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == invalid_token('symmetric algorithm "HS256" is never accepted')


def test_bad_signature_is_refused(kc, server, forger):
    # A real Keycloak token whose payload was changed (the reader made an operator), signature kept.
    real = kc.password_grant("reader")["access_token"]
    h, p, s = real.split(".")
    c = claims_of(real)
    c["scope"] = "dagmedic:read dagmedic:operate"
    forged = f"{h}.{b64url(json.dumps(c).encode())}.{s}"
    r = post(server, INIT, forged)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == invalid_token("bad signature")
    # The published kid, signed with another key.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = post(server, INIT, forger.sign(forger.claims(), key=other))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == invalid_token("bad signature")


def test_unknown_kid_and_a_flood_of_them_leave_the_server_answering(kc, server, forger):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for i in range(200):
        kid = f"flood-{i}"
        r = post(server, INIT, forger.sign(forger.claims(), header={"alg": "RS256", "kid": kid}, key=other))
        assert r.status_code == 401, (i, r.status_code, r.text)
        assert r.headers["www-authenticate"] == invalid_token(f'unknown signing key id "{kid}"')
    # The bound on JWK set refetches is unit-tested (Verifier.UnknownKidRefetchesOnceThenTheFloodStaysBounded);
    # here: after the flood a good token is still served at once.
    token = kc.client_credentials(K.AGENT)["access_token"]
    r = post(server, INIT, token)
    assert r.status_code == 200, r.text


def test_user_without_the_role_is_forbidden(server, forger):
    # Keycloak gives no dagmedic scope to a user without a dagmedic role; such a token (its signature valid).
    r = post(server, INIT, forger.sign(forger.claims(scope="openid profile")))
    assert r.status_code == 403
    assert r.headers["www-authenticate"] == challenge(
        error="insufficient_scope", scope="dagmedic:read",
        error_description="this request needs the scope dagmedic:read")


def test_token_in_the_query_string_is_refused(kc, server):
    token = kc.client_credentials(K.AGENT)["access_token"]
    for path in (f"/mcp?access_token={token}", f"/mcp?x=1&access_token={token}"):
        r = post(server, INIT, token, path=path)
        assert r.status_code == 400, path
        assert r.headers["www-authenticate"] == challenge(
            error="invalid_request",
            error_description="access tokens are not accepted in the URI query; send an Authorization: Bearer "
                              "header")
    r = post(server, INIT, path=f"/mcp?access_token={token}")  # and without a header
    assert r.status_code == 400


def test_oversized_authorization_header_is_431(server, forger):
    big = forger.sign(forger.claims(pad="x" * 9000))
    assert len(big) > 8192
    r = post(server, INIT, big)
    assert r.status_code == 431
    r = post(server, INIT, "a" * 30000)  # beyond the whole header limit
    assert r.status_code == 431


def test_revoked_token_is_refused_with_introspection(kc, server_introspecting):
    grant = kc.password_grant("operator")
    token = grant["access_token"]
    r = post(server_introspecting, INIT, token)
    assert r.status_code == 200, r.text
    assert kc.revoke(token) == 200
    assert kc.introspect(token)["active"] is False
    r = post(server_introspecting, INIT, token)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == invalid_token(
        "the token is no longer active at the issuer (revoked, or its session ended)")
    # A session that ended at the IdP (logout) does the same for its tokens.
    grant2 = kc.password_grant("reader")
    assert post(server_introspecting, INIT, grant2["access_token"]).status_code == 200
    assert kc.logout(grant2["refresh_token"]) in (200, 204)
    r = post(server_introspecting, INIT, grant2["access_token"])
    assert r.status_code == 401
    assert "no longer active" in r.headers["www-authenticate"]


def test_non_loopback_bind_without_auth_refuses_to_start(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
           "PATH": "/usr/bin:/bin"}
    r = subprocess.run([str(DAGMEDIC), "serve", "--transport", "http", "--bind", "0.0.0.0", "--port", "0"],
                       env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r.stderr
    assert "refusing to serve on 0.0.0.0 without authentication" in r.stderr, r.stderr
    assert "Add an `auth:` section" in r.stderr and "--bind 127.0.0.1" in r.stderr, r.stderr
