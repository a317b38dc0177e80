#!/usr/bin/env python3
"""TEST DOUBLE for two AWS metadata endpoints (not the real thing; neither runs off AWS):

* the EC2 instance metadata service (IMDS) credential paths, IMDSv2 shapes:
    PUT  /latest/api/token  (X-aws-ec2-metadata-token-ttl-seconds: 1..21600 required) -> token
    GET  /latest/meta-data/iam/security-credentials/         -> role name
    GET  /latest/meta-data/iam/security-credentials/<role>   -> credentials JSON
  Like the real IMDS it checks the session token header (X-aws-ec2-metadata-token) on GETs:
  a wrong or expired token gets 401; a GET without one gets 401 when `v1` is off
  (HttpTokens=required), else it is served (IMDSv1). A PUT carrying X-Forwarded-For is refused
  (403), as the real one does.
* the ECS/EKS container credentials endpoint: GET /container/creds, checks that the
  Authorization header equals the configured token (401 otherwise).

Behaviour is set with POST /_control (JSON: {"v1": bool, "token_status": int|null,
"ecs_token": str}) and every request is logged at GET /_log, so tests assert the order of calls.
Run: metadata_double.py PORT_FILE  (binds 127.0.0.1 on a free port and writes it to PORT_FILE)
"""
import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = "dagmedic-instance-role"
STATE = {"v1": True, "token_status": None, "ecs_token": "ecs-secret-token", "tokens": set(),
         "log": []}
LOCK = threading.Lock()


def creds(prefix):
    return {"Code": "Success", "LastUpdated": "2026-11-26T01:00:00Z", "Type": "AWS-HMAC",
            "AccessKeyId": prefix + "EXAMPLEKEYID0001", "SecretAccessKey": "double-secret-" + prefix,
            "Token": "double-token-" + prefix, "Expiration": "2099-01-01T00:00:00Z"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body="", ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self):
        with LOCK:
            STATE["log"].append({"method": self.command, "path": self.path,
                                 "token": self.headers.get("X-aws-ec2-metadata-token"),
                                 "ttl": self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"),
                                 "authorization": self.headers.get("Authorization")})

    def do_PUT(self):
        self.record()
        if self.path != "/latest/api/token":
            return self.send(404)
        if STATE["token_status"] is not None:
            return self.send(STATE["token_status"])
        if self.headers.get("X-Forwarded-For"):
            return self.send(403)
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.send(400)
        token = secrets.token_urlsafe(24)
        with LOCK:
            STATE["tokens"].add(token)
        return self.send(200, token)

    def do_POST(self):
        if self.path == "/_control":
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            with LOCK:
                STATE.update(body)
                STATE["log"] = []
            return self.send(200, "{}", "application/json")
        return self.send(405)

    def do_GET(self):
        if self.path == "/_log":
            with LOCK:
                return self.send(200, json.dumps(STATE["log"]), "application/json")
        self.record()
        if self.path.startswith("/container/"):
            if self.headers.get("Authorization") != STATE["ecs_token"]:
                return self.send(401, '{"message":"unauthorized"}', "application/json")
            return self.send(200, json.dumps(creds("ASIAECS")), "application/json")
        base = "/latest/meta-data/iam/security-credentials/"
        if not self.path.startswith(base):
            return self.send(404)
        token = self.headers.get("X-aws-ec2-metadata-token")
        if token is not None and token not in STATE["tokens"]:
            return self.send(401)
        if token is None and not STATE["v1"]:
            return self.send(401)
        rest = self.path[len(base):]
        if rest == "":
            return self.send(200, ROLE)
        if rest == ROLE:
            return self.send(200, json.dumps(creds("ASIAIMDS")), "application/json")
        return self.send(404)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as f:
        f.write(str(srv.server_address[1]))
    srv.serve_forever()


if __name__ == "__main__":
    main()
