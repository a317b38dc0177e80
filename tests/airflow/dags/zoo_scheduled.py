"""Airflow zoo DAG: the one zoo DAG with a schedule (every minute), for watch mode's freshness check. It is created
paused and stays paused except inside tests/airflow/test_watch.py's late-DAG test, which unpauses it, pauses it
mid-test (so its next run is not made: the DAG becomes late) and unpauses it again (the run is made: on time again).
Not in zoo.EXPECTATIONS: the rig never triggers it."""

from zoo_lib import DAG, START, default_args, task

with DAG(
    "zoo_scheduled",
    schedule="* * * * *",
    catchup=False,
    start_date=START,
    tags=["tier=2", "freshness"],
    default_args=default_args(),
    is_paused_upon_creation=True,
):

    @task
    def tick():
        print("on time")
        return 1

    tick()
