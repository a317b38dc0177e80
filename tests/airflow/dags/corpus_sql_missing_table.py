"""Airflow corpus DAG: the load reads staging_orders, which its upstream never created
(SQLExecuteQueryOperator through the Postgres provider, on the rig's PostgreSQL) -> UndefinedTable."""

from corpus_lib import DAG, SQLExecuteQueryOperator, dag_kwargs

with DAG("corpus_sql_missing_table", **dag_kwargs(["corpus", "team=finance"])):
    SQLExecuteQueryOperator(
        task_id="load_orders_daily",
        conn_id="corpus_warehouse",
        sql="INSERT INTO orders_daily (day, revenue) SELECT order_day, sum(amount) FROM staging_orders "
            "WHERE order_day = '{{ ds }}' GROUP BY order_day",
    )
