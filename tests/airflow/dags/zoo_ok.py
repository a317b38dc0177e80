"""Airflow zoo DAG: a healthy DAG that succeeds (recovery checks, trigger tests with conf).

conf {"sleep": N} keeps its task running N seconds (tests that need a run in progress).
"""

import time

from zoo_lib import DAG, dag_kwargs, task

with DAG("zoo_ok", **dag_kwargs(["tier=3"])):

    @task
    def say_hello(**context):
        conf = context["dag_run"].conf or {}
        print(f"hello from run {context['run_id']} conf={conf}")
        time.sleep(min(float(conf.get("sleep", 0)), 3600))

    say_hello()
