"""Airflow corpus DAG: the vendor has not published the day's export: wget gets HTTP 404 and exits 8 (BashOperator)."""

from corpus_lib import DAG, BashOperator, dag_kwargs

FETCH = """
set -euo pipefail
url="$DM_CORPUS_HTTP/exports/orders_{{ ds }}.csv"
out="$DM_ZOO_DATA/corpus/vendor/orders_{{ ds }}.csv"
mkdir -p "$(dirname "$out")"
echo "fetching the vendor export: wget --no-verbose --tries=1 -O $out $url"
wget --no-verbose --tries=1 -O "$out" "$url"
echo "fetched $(wc -l < "$out") lines"
"""

with DAG("corpus_http_export", **dag_kwargs(["corpus", "team=ingest"])):
    BashOperator(task_id="fetch_vendor_export", bash_command=FETCH)
