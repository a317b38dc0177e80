"""Airflow zoo DAG: the upstream partition for the run's date was never delivered -> FileNotFoundError."""

from zoo_lib import DAG, dag_kwargs, data_dir, ds_of, task

with DAG("zoo_missing_partition", **dag_kwargs(["tier=1", "business_critical", "team=ingest"])):

    @task
    def load_orders_partition(**context):
        path = data_dir() / "landing" / "orders" / f"dt={ds_of(context)}" / "part-0.parquet"
        print(f"reading upstream partition {path}")
        with open(path, "rb") as f:  # never delivered: FileNotFoundError
            return len(f.read())

    @task
    def publish_orders(n):
        print(f"published {n} bytes")

    publish_orders(load_orders_partition())
