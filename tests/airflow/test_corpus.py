"""The real-world log corpus (corpus.py): task logs of real operators failing for real reasons on the Airflow rigs,
through `dagmedic logs extract -`.

Every corpus DAG ran on three logical dates on Airflow 3 and on Airflow 2 (rig.py up --corpus). For each run the failing
try's log is fetched through the C++ client (build/airflow-probe) as test_signatures.py does, and diagnosed. Asserted
against what a human calls the cause (corpus.EXPECTATIONS, written before looking at dagmedic's output): the category,
the exception type, a signature that names the cause (column, table, exit code, exception), the lines that say what
ran (CONTEXT), the same signature on the three dates, and different signatures for different failures.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from itertools import combinations
from pathlib import Path

import pytest

import corpus
from probe import probe_ok as probe

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("DM_BUILD", ROOT / "build"))
DAGMEDIC = BUILD / "dagmedic"
DATES = [d[:10] for d in corpus.RUN_DATES]
DAGS = corpus.DAG_IDS
TAIL_LINES = 3000
MAX_OUTPUT = 16 * 1024

# What the diagnosis must show besides the cause (its `error` and `lines`): what ran — the command, the first line of
# the SQL, the URL — and, for the Spark job, where the executor's error surfaced in the driver (issue 16, "Context").
CONTEXT = {
    "corpus_http_export": ["Running command:", "/exports/orders_", "Bash command failed"],
    "corpus_json_manifest": ["corpus_json_manifest.py", "in parse_manifest", "Expecting value"],
    "corpus_sql_missing_column": ["SELECT date_trunc('day', order_ts)"],
    "corpus_sql_missing_table": ["INSERT INTO orders_daily"],
    "corpus_dbt_model": ["Running command:", "Database Error in model customer_revenue"],
    "corpus_spark_udf": ["Running command:", "Py4JJavaError", "Job aborted due to stage failure"],
}
assert set(CONTEXT) == set(DAGS)


@functools.lru_cache(maxsize=None)
def _fetch_and_diagnose(rig_json: str, dag_id: str, date: str) -> tuple[dict, str, dict]:
    rig = json.loads(rig_json)
    exp = corpus.EXPECTATIONS[dag_id]
    runs = [r for r in rig["corpus_runs"][dag_id] if date in r["run_id"]]
    assert len(runs) == 1 and runs[0]["state"] == "failed", (dag_id, date, rig["corpus_runs"][dag_id])
    log = probe(rig, "read_log", {"dag_id": dag_id, "run_id": runs[0]["run_id"], "task_id": exp["task_id"],
                                  "try_number": 1, "map_index": -1, "grep": exp["log"], "tail_lines": TAIL_LINES,
                                  "head_lines": 0})
    assert log["lines"] == len(log["tail"]), "a corpus log is longer than expected: raise TAIL_LINES"
    text = "\n".join(log["tail"]) + "\n"
    assert DAGMEDIC.exists(), f"{DAGMEDIC} is not built (cmake --build … --target dagmedic)"
    p = subprocess.run([str(DAGMEDIC), "logs", "extract", "-"], input=text.encode(), capture_output=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stderr.decode(errors="replace"))
    out = p.stdout.decode()
    return json.loads(out), out, log


def diagnose(rig: dict, dag_id: str, date: str) -> tuple[dict, str, dict]:
    """(parsed diagnosis, raw JSON output, probe result) of the DAG's failing try on that date."""
    return _fetch_and_diagnose(json.dumps(rig, sort_keys=True), dag_id, date)


def where(rig: dict, dag_id: str, date: str) -> str:
    return f"{dag_id} {date} Airflow {rig['airflow_version']}"


def test_every_corpus_run_failed_in_its_task(corpus_rig):
    assert sorted(corpus_rig["corpus_runs"]) == DAGS
    for dag_id in DAGS:
        runs = corpus_rig["corpus_runs"][dag_id]
        assert sorted(r["run_id"][-10:] for r in runs) == DATES, runs
        assert all(r["state"] == "failed" for r in runs), (dag_id, runs)


@pytest.mark.parametrize("dag_id", DAGS)
@pytest.mark.parametrize("date", DATES)
def test_diagnosis_names_the_cause(corpus_rig, dag_id, date):
    d, raw, log = diagnose(corpus_rig, dag_id, date)
    exp = corpus.EXPECTATIONS[dag_id]
    at = where(corpus_rig, dag_id, date)
    # The failure really happened the way the corpus says (else the checks below would prove nothing).
    absent = [s for s in exp["log"] if log["matches"][s] == 0]
    assert not absent, f"{at}: not in Airflow's log: {absent} ({log['matches']})"
    assert d["found"], at
    assert d["category"] == exp["category"], (at, d["category"], d["rule"], d["signature_text"])
    if exp["exception"]:
        assert d["exception_type"].rsplit(".", 1)[-1] == exp["exception"], (at, d["exception_type"])
    missing = [r for r in exp["signature"] if not re.search(r, d["signature_text"])]
    assert not missing, (at, missing, d["signature_text"])
    shown = d["error"] + "\n" + "\n".join(line["text"] for line in d["lines"])
    unseen = [s for s in CONTEXT[dag_id] if s not in shown]
    assert not unseen, (at, unseen, shown[:3000])
    assert len(raw.encode()) < MAX_OUTPUT, (at, len(raw.encode()))


@pytest.mark.parametrize("dag_id", DAGS)
def test_same_failure_on_three_dates_has_one_signature(corpus_rig, dag_id):
    ds = [diagnose(corpus_rig, dag_id, date)[0] for date in DATES]
    assert all(d["found"] for d in ds), dag_id
    assert len({d["signature"] for d in ds}) == 1, (dag_id, [d["signature_text"] for d in ds])
    assert len({(d["signature_text"], d["category"], d["exception_type"]) for d in ds}) == 1, (dag_id, ds)


def test_different_failures_have_different_signatures(corpus_rig):
    sig = {dag: diagnose(corpus_rig, dag, DATES[0])[0] for dag in DAGS}
    same = [(x, y, sig[x]["signature_text"]) for x, y in combinations(DAGS, 2)
            if sig[x]["signature"] == sig[y]["signature"]]
    assert not same, same
