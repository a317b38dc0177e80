"""Airflow zoo DAG: a task that sleeps far longer than it should (up to 15 minutes), for watch mode's stuck-task check.
Not in zoo.EXPECTATIONS: the rig never triggers it; tests/airflow/test_watch.py triggers one run, lets the watcher find
the task stuck, then marks the run failed (Airflow stops the task) and checks the incident resolves."""

import time

from zoo_lib import DAG, dag_kwargs, task

with DAG("zoo_sleeper", **dag_kwargs(["tier=2"])):

    @task
    def wait_for_lock():
        for _ in range(900):  # short sleeps: a kill is noticed at once
            time.sleep(1)
        return 1

    wait_for_lock()
