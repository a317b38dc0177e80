"""Airflow zoo DAG: a vendor feed is not delivered until someone fixes it (tier=1). The task fails while the marker
file `recoverable/READY` in the zoo data dir is absent, and succeeds once it exists: the runbook tests fix the cause
(create the marker), trigger a new run and watch check_recovery_rules turn "recovered".
"""

from zoo_lib import DAG, dag_kwargs, data_dir, task

MARKER = "recoverable/READY"

with DAG("zoo_recoverable", **dag_kwargs(["tier=1", "team=ingest"])):

    @task
    def load_vendor_prices():
        marker = data_dir() / MARKER
        if not marker.exists():
            raise RuntimeError("vendor price feed not delivered: readiness marker recoverable/READY is absent")
        print("loaded vendor prices")
        return 1

    load_vendor_prices()
