"""A TEST DOUBLE of the Airflow 2 REST API (/api/v1) for the watch-mode tests in tests/watch
(test_outbox_cli.py, test_leases_pg.py): only the reads `dagmedic watch` makes — runs of every
DAG or of one (`GET /api/v1/dags/~/dagRuns?state=failed&end_date_gte=…`, paged), a run's task
instances, a DAG (its tags), a try's log; no import errors and nothing running. It is not Airflow (no auth, no scheduler); the watch loop against real
Airflow is tests/airflow/test_watch.py.

One FakeAirflow is one environment: a real local HTTP server on 127.0.0.1 and a free port. A test
adds failed runs with `fail()` while watchers read it (thread-safe)."""

from __future__ import annotations

import datetime
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def iso(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def parse_iso(s: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


class FakeAirflow:
    """Failed runs of DAGs, each with one failed task `load` (try 1) and its log."""

    def __init__(self) -> None:
        self.runs: list[dict] = []
        self.logs: dict[tuple[str, str], str] = {}
        self.lock = threading.Lock()
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _json(self, doc, status=200):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query)
                parts = [urllib.parse.unquote(p) for p in u.path.split("/")]
                # ['', 'api', 'v1', 'dags', dag, ...]
                if parts[:4] == ["", "api", "v1", "importErrors"]:
                    return self._json({"import_errors": [], "total_entries": 0})
                if parts[:4] != ["", "api", "v1", "dags"]:
                    return self._json({"detail": "not found"}, 404)
                rest = parts[4:]
                offset = int(q.get("offset", ["0"])[0])
                limit = int(q.get("limit", ["100"])[0])
                with fake.lock:
                    all_runs = list(fake.runs)
                if len(rest) == 2 and rest[1] == "dagRuns":  # one DAG's runs, or every DAG's (~)
                    runs = [r for r in all_runs if r["state"] in q.get("state", [r["state"]])
                            and rest[0] in ("~", r["dag_id"])]
                    if "end_date_gte" in q:  # as Airflow does: the watcher's window relies on it
                        since = parse_iso(q["end_date_gte"][0])
                        runs = [r for r in runs if parse_iso(r["end_date"]) >= since]
                    return self._json({"dag_runs": runs[offset:offset + limit],
                                       "total_entries": len(runs)})
                if rest == ["~", "dagRuns", "~", "taskInstances"]:  # nothing is running
                    return self._json({"task_instances": [], "total_entries": 0})
                if len(rest) == 1:
                    return self._json({"dag_id": rest[0], "is_paused": False,
                                       "tags": [{"name": "tier=1"}]})
                if len(rest) == 4 and rest[3] == "taskInstances":
                    dag, run = rest[0], rest[2]
                    r = next((r for r in all_runs if r["dag_id"] == dag and r["dag_run_id"] == run), None)
                    if r is None:
                        return self._json({"detail": "no run"}, 404)
                    tis = [{"dag_id": dag, "dag_run_id": run, "task_id": "load", "map_index": -1,
                            "try_number": 1, "max_tries": 0, "state": "failed",
                            "start_date": r["start_date"], "end_date": r["end_date"],
                            "operator": "PythonOperator"}]
                    return self._json({"task_instances": tis[offset:], "total_entries": len(tis)})
                if len(rest) == 7 and rest[5] == "logs":
                    with fake.lock:
                        text = fake.logs.get((rest[0], rest[2]), "").encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                    return None
                return self._json({"detail": "not found"}, 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail(self, dag: str, run: str, minutes_ago: float, log: str) -> None:
        """A failed run of `dag` that ended `minutes_ago` minutes ago, its task `load` logging `log`."""
        now = datetime.datetime.now(datetime.timezone.utc)
        end = now - datetime.timedelta(minutes=minutes_ago)
        with self.lock:
            self.runs.append({"dag_id": dag, "dag_run_id": run, "state": "failed",
                              "run_type": "scheduled",
                              "execution_date": iso(end - datetime.timedelta(minutes=5)),
                              "start_date": iso(end - datetime.timedelta(minutes=4)),
                              "end_date": iso(end)})
            self.logs[(dag, run)] = log

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
