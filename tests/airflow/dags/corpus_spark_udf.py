"""Airflow corpus DAG: a local PySpark job (its own venv, started from a BashOperator) parses event timestamps in a Python
function that runs inside a Spark executor; one event has another date format -> ValueError in the executor, seen by
the driver as Py4JJavaError -> SparkException: Job aborted due to stage failure -> PythonException."""

from corpus_lib import DAG, TESTS, BashOperator, dag_kwargs

SPARK_JOB = """
set -euo pipefail
echo "spark job parse_events for {{ ds }}: $DM_CORPUS_TOOLS/spark/bin/python $SPARK_JOB"
"$DM_CORPUS_TOOLS/spark/bin/python" "$SPARK_JOB" "{{ ds }}"
"""

with DAG("corpus_spark_udf", **dag_kwargs(["corpus", "team=ml"])):
    BashOperator(task_id="parse_events", bash_command=SPARK_JOB, append_env=True,
                 env={"SPARK_JOB": str(TESTS / "corpus_jobs" / "parse_events.py"), "SPARK_LOCAL_IP": "127.0.0.1",
                      "PYSPARK_PYTHON": "python3"})
