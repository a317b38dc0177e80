"""A real local HTTP server standing in for webhook receivers (Slack, PagerDuty, Teams, a signed-JSON hook) in the
watch-mode notification tests (tests/watch, tests/airflow/test_watch.py). It records every POST and answers as the
test scripts it: a status per path, or hanging on /hang."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records every POST; `answer(path)` gives (status, body) or blocks while `hang` is set."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.status: dict[str, int] = {}
        self.hang = threading.Event()       # set: /hang requests block until released
        self.release = threading.Event()
        self.hung = threading.Event()       # a request is blocked right now
        rec = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with rec.lock:
                    rec.requests.append({"path": self.path, "headers": dict(self.headers.items()),
                                         "body": body, "at": time.time()})
                if self.path == "/hang" and rec.hang.is_set():
                    rec.hung.set()
                    rec.release.wait(60)
                    return
                status = rec.status.get(self.path, 200)
                out = b"ok" if status < 300 else b"nope"
                self.send_response(status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
