"""Airflow zoo DAG: extract fails, so transform and load end upstream_failed."""

from zoo_lib import DAG, dag_kwargs, ds_of, task

with DAG("zoo_upstream_failed", **dag_kwargs(["tier=1", "business_critical", "team=finance"])):

    @task
    def extract_orders(**context):
        print(f"extracting orders for {ds_of(context)} from the billing API")
        raise ValueError("billing API returned 0 rows for orders; refusing to load an empty extract")

    @task
    def transform_orders(rows):
        return rows

    @task
    def load_orders(rows):
        print(rows)

    load_orders(transform_orders(extract_orders()))
