"""Airflow corpus DAG: the vendor's manifest arrived cut short, json.load raises JSONDecodeError (PythonOperator)."""

import json

from corpus_lib import DAG, HERE, PythonOperator, dag_kwargs


def parse_manifest(ds, **_):
    path = HERE / "corpus_data" / "vendor_manifest.json"
    print(f"reading the manifest of {ds} from {path} ({path.stat().st_size} bytes)")
    with open(path) as f:
        manifest = json.load(f)  # truncated upload: JSONDecodeError
    print(f"{len(manifest['files'])} files listed")


with DAG("corpus_json_manifest", **dag_kwargs(["corpus", "team=ingest"])):
    PythonOperator(task_id="parse_manifest", python_callable=parse_manifest)
