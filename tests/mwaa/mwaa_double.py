#!/usr/bin/env python3
"""TEST DOUBLE for the Amazon MWAA endpoint (an AWS service with no local implementation: moto has
none). It is NOT MWAA. It stands in for the three MWAA calls dagmedic makes and the web server's CLI
endpoint, and forwards to REAL things:

  POST /restapi/{Name}      InvokeRestApi: {Path, Method, QueryParameters, Body} is forwarded to the
                            real Airflow 3 rig's REST API ({airflow}/api/v2{Path}, with a JWT from
                            /auth/token); answers {RestApiStatusCode, RestApiResponse}, Airflow 4xx/5xx
                            as HTTP 400 RestApiClientException / RestApiServerException as AWS does;
                            Path over 64 characters or a Method outside GET/PUT/POST/PATCH/DELETE →
                            ValidationException. Shapes as botocore's service model (mwaa 2020-07-01)
                            declares them; real AWS behaviour beyond the model is not known here.
  POST /clitoken/{Name}     CreateCliToken: {CliToken, WebServerHostname} (this server).
  POST /aws_mwaa/cli        the web server CLI: Bearer CliToken, text body split with shlex (POSIX)
                            and run as `airflow <words…>` (no shell) with the rig's environment;
                            answers {stdout, stderr} base64.
  GET  /environments/{Name} GetEnvironment: the task log group ARN given on the command line.

Every AWS call must carry a valid SigV4 signature (service "airflow", the configured region): the
double recomputes it with botocore's SigV4Auth from the request as received and compares. A bad
signature, an unknown key or a timestamp more than 5 minutes off gets 403 with the error shape AWS
uses (x-amzn-ErrorType + {"message"}). Keys listed with --deny get AccessDeniedException.
Every request is appended to --journal (one JSON line: method, path, body) for tests to inspect.
Binds 127.0.0.1 only; writes its port to PORT_FILE when ready.
"""
from __future__ import annotations

import argparse
import base64
import datetime
import hmac
import json
import secrets
import shlex
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALLOWED_CLI = {("dags", "trigger"), ("dags", "list"), ("version",)}
REST_API_METHODS = {"GET", "PUT", "POST", "PATCH", "DELETE"}  # the RestApiMethod enum of the service model


class State:
    def __init__(self, a):
        self.a = a
        self.keys = dict(k.split(":", 1) for k in a.key)
        self.deny = set(a.deny or [])
        self.env = json.load(open(a.env_json)) if a.env_json else {}
        self.tokens: dict[str, float] = {}
        self.jwt = ""
        self.lock = threading.Lock()

    def airflow_jwt(self, renew=False) -> str:
        with self.lock:
            if self.jwt and not renew:
                return self.jwt
            req = urllib.request.Request(self.a.airflow + "/auth/token", method="POST",
                                         data=json.dumps({"username": self.a.username,
                                                          "password": self.a.password}).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                self.jwt = json.loads(r.read())["access_token"]
            return self.jwt


class Handler(BaseHTTPRequestHandler):
    server_version = "mwaa-double"
    st: State

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _aws_error(self, status, type_, message, extra=None):
        # Member names as botocore's service model (mwaa 2020-07-01) declares them: AccessDeniedException has
        # "Message", Validation/ResourceNotFound/Internal "message", RestApiClient/ServerException only
        # RestApiStatusCode + RestApiResponse (message=None).
        key = "Message" if type_ == "AccessDeniedException" else "message"
        obj = {**({key: message} if message is not None else {}), **(extra or {})}
        self._send(status, obj, {"x-amzn-ErrorType": type_})

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _journal(self, body: bytes):
        if self.st.a.journal:
            with self.st.lock, open(self.st.a.journal, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path,
                                    "body": body.decode("utf-8", "replace")}) + "\n")

    # --- SigV4 ---------------------------------------------------------------------------
    def _verify(self, body: bytes) -> str | None:
        """Returns the access key when the signature is valid; otherwise answers and returns None."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            self._aws_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
            return None
        try:
            parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
            ak, date, region, service, term = parts["Credential"].split("/")
            signed = parts["SignedHeaders"].split(";")
            got = parts["Signature"]
        except (ValueError, KeyError):
            self._aws_error(400, "IncompleteSignatureException", "Authorization header is malformed")
            return None
        if ak not in self.st.keys:
            self._aws_error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
            return None
        if service != "airflow" or region != self.st.a.region or term != "aws4_request":
            self._aws_error(403, "InvalidSignatureException", f"Credential should be scoped to a valid region/service, not {region}/{service}")
            return None
        stamp = self.headers.get("X-Amz-Date", "")
        try:
            when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
        except ValueError:
            self._aws_error(403, "IncompleteSignatureException", "X-Amz-Date is missing or malformed")
            return None
        skew = abs((datetime.datetime.utcnow() - when).total_seconds())
        if skew > 300:
            self._aws_error(403, "InvalidSignatureException", "Signature expired: " + stamp + " is now earlier than the allowed window (5 min)")
            return None
        url = f"http://{self.headers.get('Host')}{self.path}"
        req = AWSRequest(method=self.command, url=url, data=body)
        for h in signed:
            if self.headers.get(h) is None:
                self._aws_error(403, "InvalidSignatureException", f"signed header {h} is missing")
                return None
            req.headers[h] = self.headers.get(h)
        req.context["timestamp"] = stamp
        token = self.headers.get("X-Amz-Security-Token")
        signer = SigV4Auth(Credentials(ak, self.st.keys[ak], token), service, region)
        canonical = signer.canonical_request(req)
        want = signer.signature(signer.string_to_sign(req, canonical), req)
        if not hmac.compare_digest(want, got):
            self._aws_error(403, "InvalidSignatureException",
                            "The request signature we calculated does not match the signature you provided.")
            return None
        if ak in self.st.deny:
            self._aws_error(403, "AccessDeniedException",
                            f"User: arn:aws:iam::123456789012:user/{ak} is not authorized to perform this action")
            return None
        return ak

    # --- routes --------------------------------------------------------------------------
    def do_GET(self):
        body = self._body()
        self._journal(body)
        path = urllib.parse.urlsplit(self.path).path
        if path == "/environments/" + self.st.a.name:
            if self._verify(body) is None:
                return
            self._send(200, {"Environment": {
                "Name": self.st.a.name, "Status": "AVAILABLE",
                "WebserverUrl": f"127.0.0.1:{self.server.server_address[1]}",
                "LoggingConfiguration": {"TaskLogs": {"Enabled": True, "LogLevel": "INFO",
                                                      "CloudWatchLogGroupArn": self.st.a.log_group_arn}}}})
            return
        if path.startswith("/environments/"):
            if self._verify(body) is None:
                return
            self._aws_error(404, "ResourceNotFoundException", "Environment not found")
            return
        self._send(404, {"message": "no such route"})

    def do_POST(self):
        body = self._body()
        self._journal(body)
        path = urllib.parse.urlsplit(self.path).path
        if path == "/aws_mwaa/cli":
            return self._cli(body)
        if path.startswith("/restapi/") or path.startswith("/clitoken/"):
            if self._verify(body) is None:
                return
            name = urllib.parse.unquote(path.split("/", 2)[2])
            if name != self.st.a.name:
                return self._aws_error(404, "ResourceNotFoundException", f"Environment {name} not found")
            if path.startswith("/clitoken/"):
                tok = secrets.token_urlsafe(24)
                with self.st.lock:
                    self.st.tokens[tok] = time.monotonic() + 60
                return self._send(200, {"CliToken": tok,
                                        "WebServerHostname": f"127.0.0.1:{self.server.server_address[1]}"})
            return self._invoke(body)
        self._send(404, {"message": "no such route"})

    def _invoke(self, body: bytes):
        try:
            call = json.loads(body)
            p, m = call["Path"], call["Method"]
        except (ValueError, KeyError, TypeError):
            return self._aws_error(400, "ValidationException", "Path and Method are required")
        if not isinstance(p, str) or not p.startswith("/") or len(p) > 64:
            return self._aws_error(400, "ValidationException",
                                   "1 validation error detected: Value at 'path' failed to satisfy constraint: "
                                   "Member must have length less than or equal to 64")
        if m not in REST_API_METHODS:
            return self._aws_error(400, "ValidationException",
                                   "1 validation error detected: Value at 'method' failed to satisfy constraint: "
                                   "Member must satisfy enum value set: [GET, PUT, POST, PATCH, DELETE]")
        q = []
        for k, v in (call.get("QueryParameters") or {}).items():
            for one in (v if isinstance(v, list) else [v]):
                q.append((k, one if isinstance(one, str) else json.dumps(one)))
        url = self.st.a.airflow + "/api/v2" + urllib.parse.quote(p, safe="/~") + (
            "?" + urllib.parse.urlencode(q) if q else "")
        data = json.dumps(call["Body"]).encode() if "Body" in call else None
        for attempt in (0, 1):
            req = urllib.request.Request(url, method=m, data=data, headers={
                "Authorization": "Bearer " + self.st.airflow_jwt(renew=attempt > 0),
                "Accept": "application/json", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    status, raw = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, raw = e.code, e.read()
            if status != 401:
                break
        try:
            reply = json.loads(raw) if raw else {}
        except ValueError:
            reply = {"detail": raw.decode("utf-8", "replace")[:500]}
        out = {"RestApiStatusCode": status, "RestApiResponse": reply}
        if status < 400:
            return self._send(200, out)
        kind = "RestApiClientException" if status < 500 else "RestApiServerException"
        self._aws_error(400, kind, None, out)

    def _cli(self, body: bytes):
        auth = self.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else ""
        with self.st.lock:
            exp = self.st.tokens.get(tok)
        if not exp or exp < time.monotonic():
            return self._send(403, {"message": "invalid or expired CLI token"})
        try:
            words = shlex.split(body.decode())
        except ValueError as e:
            return self._send(200, {"stdout": "", "stderr": base64.b64encode(f"parse error: {e}".encode()).decode()})
        if not any(tuple(words[:len(c)]) == c for c in ALLOWED_CLI):
            return self._send(400, {"message": "command not allowed by the test double"})
        with self.st.lock:
            open(self.st.a.journal + ".cli", "a").write(json.dumps(words) + "\n") if self.st.a.journal else None
        env = {"PATH": "/usr/bin:/bin", **self.st.env}
        p = subprocess.run([self.st.a.airflow_bin, *words], capture_output=True, env=env,
                           stdin=subprocess.DEVNULL, timeout=300)
        self._send(200, {"stdout": base64.b64encode(p.stdout).decode(),
                         "stderr": base64.b64encode(p.stderr).decode()})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port_file")
    ap.add_argument("--name", required=True)
    ap.add_argument("--region", required=True)
    ap.add_argument("--key", action="append", required=True, help="ACCESS_KEY:SECRET (repeatable)")
    ap.add_argument("--deny", action="append", help="access keys that get AccessDeniedException")
    ap.add_argument("--airflow", required=True, help="Airflow 3 base URL")
    ap.add_argument("--username", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--airflow-bin", required=True)
    ap.add_argument("--env-json", help="the rig's env.json (AIRFLOW_* for the CLI)")
    ap.add_argument("--log-group-arn", required=True)
    ap.add_argument("--journal")
    a = ap.parse_args()
    Handler.st = State(a)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
