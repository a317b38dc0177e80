"""Airflow zoo DAG: a DAG file that cannot be imported -> an import error on the DAG processor (no DAG, no runs)."""

import not_a_module  # noqa: F401  (the planted failure)

from zoo_lib import DAG, dag_kwargs

with DAG("zoo_import_error", **dag_kwargs(["tier=2"])):
    pass
