"""Airflow zoo DAG: a flaky fetch fails on its first try and succeeds on the retry (retries=1, retry_delay=2s).

Attempts are counted in a file keyed by run id, so every run fails exactly once.
"""

from datetime import timedelta

from zoo_lib import DAG, dag_kwargs, data_dir, task

with DAG("zoo_flaky", **dag_kwargs(["tier=2", "team=ingest"])):

    @task(retries=1, retry_delay=timedelta(seconds=2))
    def fetch_exchange_rates(**context):
        run_id = context["run_id"]
        marker = data_dir() / "flaky" / (run_id.replace("/", "_").replace(":", "_") + ".attempts")
        marker.parent.mkdir(parents=True, exist_ok=True)
        attempts = int(marker.read_text()) if marker.exists() else 0
        marker.write_text(str(attempts + 1))
        if attempts == 0:
            raise ConnectionResetError("exchange-rate API reset the connection (transient), will retry")
        print("fetched 168 exchange rates")
        return 168

    fetch_exchange_rates()
