"""Helpers shared by the corpus DAG files (tests/airflow/corpus.py; not a DAG file itself: listed in .airflowignore).

Real operators, imported where each Airflow keeps them: the standard provider on Airflow 3, the core modules on 2.10.
The rig (rig.py up --corpus) sets the environment the tasks read:
  DM_CORPUS_HTTP   base URL of the rig's vendor file server (an empty folder: every file is a 404)
  DM_CORPUS_TOOLS  the cache holding the corpus's own venvs (dbt/, spark/; dev/setup.d/45-corpus-tools.sh)
  DM_CORPUS_PG_*   HOST, PORT, USER, DB of the warehouse database on the rig's PostgreSQL (for dbt)
and the Airflow connection `corpus_warehouse` (AIRFLOW_CONN_CORPUS_WAREHOUSE) to that database.
"""

from __future__ import annotations

from pathlib import Path

from zoo_lib import AIRFLOW3, DAG, dag_kwargs  # noqa: F401

if AIRFLOW3:
    from airflow.providers.standard.operators.bash import BashOperator  # noqa: F401
    from airflow.providers.standard.operators.python import PythonOperator  # noqa: F401
else:
    from airflow.operators.bash import BashOperator  # noqa: F401
    from airflow.operators.python import PythonOperator  # noqa: F401

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator  # noqa: F401,E402

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent  # tests/airflow: the dbt project and the Spark job live there, outside the DAG folder
