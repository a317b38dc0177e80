"""Airflow zoo DAG: the source renamed a column (customer_id -> customerId) -> KeyError: 'customer_id'."""

from zoo_lib import DAG, dag_kwargs, ds_of, task

with DAG("zoo_schema_drift", **dag_kwargs(["tier=1", "team=analytics"])):

    @task
    def transform_customers(**context):
        rows = [
            {"order_id": 1, "customerId": "C-100", "amount": 12.5, "dt": ds_of(context)},
            {"order_id": 2, "customerId": "C-101", "amount": 7.0, "dt": ds_of(context)},
        ]
        print(f"transforming {len(rows)} rows with columns {sorted(rows[0])}")
        return {row["customer_id"]: row["amount"] for row in rows}  # KeyError: 'customer_id'

    transform_customers()
