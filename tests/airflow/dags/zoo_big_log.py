"""Airflow zoo DAG: a task writes ~5 MB of log before failing (the error is at the very end: tails must find it)."""

from zoo_lib import DAG, dag_kwargs, task

LINES = 5000
PAD = "x" * 960

with DAG("zoo_big_log", **dag_kwargs(["tier=3", "team=ingest"])):

    @task
    def replay_events():
        for i in range(LINES):
            print(f"replayed batch {i:05d}/{LINES} ok {PAD}")
        raise ValueError(f"checksum mismatch in batch {LINES - 1:05d}: expected 9f2c1e, got 000000")

    replay_events()
