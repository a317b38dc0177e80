"""The corpus's Spark job (tests/airflow/dags/corpus_spark_udf.py): parses event timestamps on a local Spark. One event
was written in another date format, so the Python function fails inside the executor."""

import sys
from datetime import datetime

from pyspark.sql import SparkSession

EVENTS = ["2025-12-07 09:00,login", "2025-12-07 09:05,view", "07/12/2025 10:00,purchase", "2025-12-07 10:30,logout"]


def parse(line: str):
    ts, kind = line.split(",")
    return datetime.strptime(ts, "%Y-%m-%d %H:%M"), kind


if __name__ == "__main__":
    spark = (SparkSession.builder.master("local[1]").appName(f"parse_events_{sys.argv[1]}")
             .config("spark.ui.enabled", "false").config("spark.driver.memory", "512m")
             .config("spark.sql.shuffle.partitions", "1").getOrCreate())
    rows = spark.sparkContext.parallelize(EVENTS, 1).map(parse).collect()
    print(f"parsed {len(rows)} events")
    spark.stop()
