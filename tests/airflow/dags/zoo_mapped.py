"""Airflow zoo DAG: a mapped task (.expand over 4 partitions) whose index 2 fails; the merge ends upstream_failed."""

from zoo_lib import DAG, dag_kwargs, task

with DAG("zoo_mapped", **dag_kwargs(["tier=2", "team=ml"])):

    @task
    def list_partitions():
        return [0, 1, 2, 3]

    @task
    def process_partition(part):
        print(f"processing partition {part}")
        if part == 2:
            raise ValueError(f"partition {part}: corrupt parquet footer (magic bytes b'PAR0')")
        return part * 10

    @task
    def merge_partitions(results):
        print(sorted(results))

    merge_partitions(process_partition.expand(part=list_partitions()))
