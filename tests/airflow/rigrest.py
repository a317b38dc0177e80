"""Small Airflow REST client (httpx) for the tests, built from a rig.json: v2 (Airflow 3, JWT from POST /auth/token)
or v1 (Airflow 2, basic auth). It is the independent reference the C++ client is compared with; keep it simple.
"""

from __future__ import annotations

import json
import urllib.parse

import httpx


class RigRest:
    def __init__(self, rig: dict, timeout: float = 60.0):
        self.rig = rig
        self.v2 = rig["api_version"] == "v2"
        self.base = f"{rig['url']}/api/{rig['api_version']}"
        auth = None if self.v2 else (rig["username"], rig["password"])
        self.http = httpx.Client(timeout=timeout, auth=auth)
        if self.v2:
            r = self.http.post(f"{rig['url']}/auth/token", json={"username": rig["username"],
                                                                  "password": rig["password"]})
            assert r.status_code in (200, 201), f"POST /auth/token -> {r.status_code} {r.text[:200]}"
            self.http.headers["Authorization"] = "Bearer " + r.json()["access_token"]

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params) -> dict:
        r = self.http.get(self.base + path, params=params, headers={"Accept": "application/json"})
        assert r.status_code == 200, f"GET {path} -> {r.status_code}: {r.text[:300]}"
        return r.json()

    def trigger(self, dag_id: str, run_id: str, logical_date: str) -> dict:
        r = self.http.post(f"{self.base}/dags/{dag_id}/dagRuns",
                           json={"dag_run_id": run_id, "logical_date": logical_date, "conf": {}})
        assert r.status_code in (200, 201), f"POST /dags/{dag_id}/dagRuns -> {r.status_code}: {r.text[:300]}"
        return r.json()

    def trigger_and_wait(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        """Triggers a run now and polls until it succeeded or failed; returns the run."""
        import datetime
        import time

        self.trigger(dag_id, run_id, datetime.datetime.now(datetime.timezone.utc).isoformat())
        deadline = time.monotonic() + timeout
        run: dict = {}
        while time.monotonic() < deadline:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(1)
        raise AssertionError(f"{dag_id} {run_id} not finished after {timeout}s: {run.get('state')}")

    def dag(self, dag_id: str) -> dict:
        return self.get(f"/dags/{dag_id}")

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{q(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        out, offset = [], 0
        while True:
            page = self.get(f"/dags/{dag_id}/dagRuns/{q(run_id)}/taskInstances", limit=100, offset=offset)
            out += page["task_instances"]
            offset += len(page["task_instances"])
            if not page["task_instances"] or offset >= page["total_entries"]:
                return out

    def import_errors(self) -> list[dict]:
        return self.get("/importErrors", limit=100)["import_errors"]

    def log_text(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """The whole log of one try as text: v1 plain text; v2 one JSON object per structured event, one a line
        (the exception type and message live in the event's error_detail, so search the serialized events)."""
        path = f"/dags/{dag_id}/dagRuns/{q(run_id)}/taskInstances/{task_id}/logs/{try_number}"
        params = {"full_content": "true", "map_index": map_index}
        if not self.v2:
            r = self.http.get(self.base + path, params=params, headers={"Accept": "text/plain"})
            assert r.status_code == 200, f"GET {path} -> {r.status_code}: {r.text[:300]}"
            return r.text
        lines, token = [], None
        for _ in range(10_000):
            p = dict(params, **({"token": token} if token else {}))
            r = self.http.get(self.base + path, params=p, headers={"Accept": "application/json"})
            assert r.status_code == 200, f"GET {path} -> {r.status_code}: {r.text[:300]}"
            body = r.json()
            content = body.get("content") or []
            if isinstance(content, str):
                lines.append(content)
            else:
                lines += [json.dumps(e) if not isinstance(e, str) else e for e in content]
            new = body.get("continuation_token")
            if not new or new == token or not content:
                break
            token = new
        return "\n".join(lines)


def q(s: str) -> str:
    return urllib.parse.quote(s, safe="")
