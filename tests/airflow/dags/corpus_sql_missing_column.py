"""Airflow corpus DAG: the warehouse renamed orders.order_ts to ordered_at; the report's SQL still uses order_ts
(SQLExecuteQueryOperator through the Postgres provider, on the rig's PostgreSQL) -> UndefinedColumn."""

from corpus_lib import DAG, SQLExecuteQueryOperator, dag_kwargs

with DAG("corpus_sql_missing_column", **dag_kwargs(["corpus", "team=analytics"])):
    SQLExecuteQueryOperator(
        task_id="daily_revenue",
        conn_id="corpus_warehouse",
        sql="SELECT date_trunc('day', order_ts) AS day, sum(amount) AS revenue FROM orders "
            "WHERE order_ts::date = '{{ ds }}' GROUP BY 1",
    )
