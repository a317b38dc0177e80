"""Airflow corpus DAG: `dbt run` (dbt-core + dbt-postgres in their own venv, from a BashOperator) builds the model
customer_revenue, which still selects customer_id; the warehouse calls it customer_ref -> "Database Error in model
customer_revenue" with the cause on the next line."""

from corpus_lib import DAG, TESTS, BashOperator, dag_kwargs

DBT_RUN = """
set -euo pipefail
work="$DM_ZOO_DATA/corpus/dbt/{{ run_id }}"
mkdir -p "$work"
echo "dbt run --select customer_revenue (project $DBT_PROJECT_DIR)"
"$DM_CORPUS_TOOLS/dbt/bin/dbt" run --project-dir "$DBT_PROJECT_DIR" --profiles-dir "$DBT_PROJECT_DIR" \\
  --target-path "$work/target" --log-path "$work/logs" --select customer_revenue
"""

with DAG("corpus_dbt_model", **dag_kwargs(["corpus", "team=analytics"])):
    BashOperator(task_id="dbt_run", bash_command=DBT_RUN, append_env=True,
                 env={"DBT_PROJECT_DIR": str(TESTS / "corpus_dbt"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
