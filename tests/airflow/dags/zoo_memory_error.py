"""Airflow zoo DAG: a feature matrix does not fit in memory -> MemoryError.

The allocation fails against a soft RLIMIT_AS set just above the task's current size, so no memory is ever touched
and the machine is not hurt; the limit is restored before the error propagates.
"""

import resource

from zoo_lib import DAG, dag_kwargs, task


def _vm_size_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 1 << 30


with DAG("zoo_memory_error", **dag_kwargs(["tier=3", "team=ml"])):

    @task
    def build_feature_matrix():
        rows, cols = 4_000_000, 512
        print(f"allocating feature matrix {rows}x{cols} float64 ({rows * cols * 8 >> 20} MiB)")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (_vm_size_bytes() + (256 << 20), hard))
        try:
            matrix = bytearray(rows * cols * 8)  # MemoryError under the limit
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        return len(matrix)

    build_feature_matrix()
