"""Airflow zoo DAG: a query runs past its 5 s execution_timeout -> AirflowTaskTimeout."""

import time
from datetime import timedelta

from zoo_lib import DAG, dag_kwargs, task

with DAG("zoo_timeout", **dag_kwargs(["tier=2", "team=analytics"])):

    @task(execution_timeout=timedelta(seconds=5))
    def slow_query():
        print("running slow aggregate query (execution_timeout=5s)")
        time.sleep(60)

    slow_query()
