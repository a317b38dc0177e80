#!/usr/bin/env bash
# `dagmedic logs redact|extract|templates` end to end on files: exit codes, JSON validity, no
# secret survives `logs redact` (tests/logs/secrets/*.secrets.tsv), same signature for Airflow 2
# and 3 formats of one failure, streaming from stdin == from a file.
source "$(dirname "$0")/../lib.sh"
STEP=31-logs-cli
BIN="${DM_DAGMEDIC:-$DM_BUILD/dagmedic}"
CORPUS="$DM_ROOT/tests/logs/extract"
SECRETS="$DM_ROOT/tests/logs/secrets"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0; failed=0
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); dm_log "FAIL: $*"; }
check() { local name=$1; shift; if "$@"; then ok; else ko "$name"; fi; }

[ -x "$BIN" ] || { dm_log "no dagmedic binary at $BIN"; dm_record "$STEP" 0 1; exit 1; }

# Exit codes: usage errors 2, missing file 1 with a clear message, --help 0.
rc() { local want=$1; shift; "$@" >"$work/out" 2>"$work/err" </dev/null; [ $? -eq "$want" ]; }
check "no subcommand -> 2" rc 2 "$BIN" logs
check "unknown subcommand -> 2" rc 2 "$BIN" logs frobnicate x
check "missing FILE -> 2" rc 2 "$BIN" logs extract
check "bad option -> 2" rc 2 "$BIN" logs templates --bogus x
check "bad --tail-lines -> 2" rc 2 "$BIN" logs extract --tail-lines 0 "$CORPUS/shell_exit.log"
check "--help -> 0" rc 0 "$BIN" logs --help
check "missing file -> 1" rc 1 "$BIN" logs extract /nonexistent/x.log
check "missing file message" grep -q "cannot open '/nonexistent/x.log'" "$work/err"
check "directory -> 1" rc 1 "$BIN" logs redact "$CORPUS"
check "bad category rules -> 1" rc 1 "$BIN" logs extract --category-rules /nonexistent.yaml "$CORPUS/shell_exit.log"

# logs redact: no planted secret survives, markers present, line count kept.
for tsv in "$SECRETS"/*.secrets.tsv; do
  [ -e "$tsv" ] || continue
  log="${tsv%.secrets.tsv}.log"
  name=$(basename "$log")
  if "$BIN" logs redact "$log" >"$work/red.txt" 2>"$work/err"; then ok; else ko "redact $name exit"; continue; fi
  leaked=0
  while IFS=$'\t' read -r type secret; do
    [[ -z "$type" || "$type" == \#* || -z "$secret" ]] && continue
    if grep -qF -- "$secret" "$work/red.txt"; then leaked=$((leaked + 1)); dm_log "leak in $name: $type"; fi
  done <"$tsv"
  check "redact $name: no secret left" [ "$leaked" -eq 0 ]
  check "redact $name: markers" grep -q '\[REDACTED:' "$work/red.txt"
  check "redact $name: line count kept" [ "$(wc -l <"$log")" -eq "$(wc -l <"$work/red.txt")" ]
  # stdin gives the same bytes as the file
  "$BIN" logs redact - <"$log" >"$work/red-stdin.txt"
  check "redact $name: stdin == file" cmp -s "$work/red.txt" "$work/red-stdin.txt"
done
if ! ls "$SECRETS"/*.secrets.tsv >/dev/null 2>&1; then ko "secrets corpus missing"; fi

# logs extract: valid JSON with the expected fields on every corpus file.
PY=python3
for f in "$CORPUS"/*.log "$CORPUS"/*.jsonl; do
  name=$(basename "$f")
  if "$BIN" logs extract "$f" >"$work/d.json"; then ok; else ko "extract $name exit"; continue; fi
  check "extract $name: json" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["found"] is True, d
assert len(d["signature"]) == 12 and all(c in "0123456789abcdef" for c in d["signature"]), d
assert d["category"] != "unknown" and d["risk"] in ("low", "medium", "high"), d
assert d["error"] and d["error_line"] > 0 and isinstance(d["lines"], list), d
assert any(l["n"] == d["error_line"] for l in d["lines"]), d
' "$work/d.json"
done
sig() { "$BIN" logs extract "$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["signature"])'; }
check "airflow 2 vs 3 KeyError: same signature" [ "$(sig "$CORPUS/airflow2_keyerror.log")" = "$(sig "$CORPUS/airflow3_keyerror.jsonl")" ]
check "airflow 2 vs 3 OOM: same signature" [ "$(sig "$CORPUS/oom_airflow2.log")" = "$(sig "$CORPUS/airflow3_oom.jsonl")" ]
sed -e 's/2026-01-14/2027-06-30/g' -e 's/ip-10-0-12-87/ip-10-9-1-2/g' -e 's/48213/5150/g' \
  "$CORPUS/airflow2_keyerror.log" >"$work/other_day.log"
check "other day/host/pid: same signature" [ "$(sig "$CORPUS/airflow2_keyerror.log")" = "$(sig "$work/other_day.log")" ]
sed 's/customer_id/order_id/g' "$CORPUS/airflow2_keyerror.log" >"$work/other_col.log"
check "other column: other signature" [ "$(sig "$CORPUS/airflow2_keyerror.log")" != "$(sig "$work/other_col.log")" ]
# extract redacts: a secret planted in the traceback never reaches the JSON.
printf 'Traceback (most recent call last):\n  File "/dags/x.py", line 1, in f\nValueError: login failed for postgresql://etl:Zq8vPl0ngS3cret@db:5432/dw\n' >"$work/secret_tb.log"
"$BIN" logs extract "$work/secret_tb.log" >"$work/d.json"
check "extract redacts" bash -c "! grep -q Zq8vPl0ngS3cret '$work/d.json' && grep -q REDACTED '$work/d.json'"
check "extract from stdin" bash -c "'$BIN' logs extract - <'$CORPUS/spark_submit.log' | grep -q FileNotFoundException"

# The config's rules: user files extend the built-in rules (docs/config.md "Your own rules").
mkdir -p "$work/cfg/rules"
printf '%s\n' 'rules:' \
  '  redaction: [rules/acme-redaction.yaml]   # relative to this file'"'"'s folder' \
  '  categories: [rules/acme-categories.yaml]' >"$work/cfg/config.yaml"
printf '%s\n' 'version: 1' 'rules:' '  - id: acme-token' "    pattern: 'acme_[0-9a-f]{24}'" \
  '    keywords: [acme_]' >"$work/cfg/rules/acme-redaction.yaml"
printf '%s\n' 'rules:' '  - id: acme-quota' '    category: quota_or_throttling' \
  "    message: 'ACME quota exhausted'" >"$work/cfg/rules/acme-categories.yaml"
printf 'Traceback (most recent call last):\n  File "/dags/acme.py", line 9, in pull\nRuntimeError: ACME quota exhausted: got acme_0123456789abcdef01234567 from the vault\n' >"$work/acme.log"
"$BIN" logs extract "$work/acme.log" >"$work/builtin.json"
check "built-in rules alone: custom secret kept, error not categorised" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert "acme_0123456789abcdef01234567" in d["error"] and d["rule"] != "acme-quota", d
' "$work/builtin.json"
if "$BIN" logs extract --config "$work/cfg/config.yaml" "$work/acme.log" >"$work/acme.json" 2>"$work/err"; then ok; else ko "extract --config exit: $(cat "$work/err")"; fi
check "config rules: custom secret redacted, custom error categorised" $PY -c '
import json, sys
text = open(sys.argv[1]).read()
d = json.loads(text)
assert "acme_0123456789abcdef01234567" not in text, text
assert "[REDACTED:acme-token]" in d["error"], d["error"]
assert d["category"] == "quota_or_throttling" and d["rule"] == "acme-quota", d
' "$work/acme.json"
"$BIN" logs redact --config "$work/cfg/config.yaml" "$work/acme.log" >"$work/acme.red"
check "logs redact --config: custom secret redacted" bash -c "grep -q 'REDACTED:acme-token' '$work/acme.red' && ! grep -q acme_0123 '$work/acme.red'"
# A bad rule file: exit 1 before anything runs, naming the file and the line.
printf 'version: 1\nrules:\n  - id: ok-rule\n    pattern: x\n  - id: broken\n    keywords: [b]\n' >"$work/cfg/rules/acme-redaction.yaml"
check "bad redaction rule file -> 1" rc 1 "$BIN" logs extract --config "$work/cfg/config.yaml" "$work/acme.log"
check "bad redaction rule file: file:line" grep -qF "$work/cfg/rules/acme-redaction.yaml:5: rule 'broken': missing 'pattern'" "$work/err"
check "bad redaction rule file: no output" [ ! -s "$work/out" ]
# ... even for a sub-command that uses no redactor (the built-in set is then not compiled).
check "bad redaction rule file stops templates --no-redact" rc 1 "$BIN" logs templates --no-redact --config "$work/cfg/config.yaml" "$work/acme.log"
check "templates --no-redact names the file:line" grep -qF "acme-redaction.yaml:5: rule 'broken'" "$work/err"
printf 'version: 1\nrules: []\n' >"$work/cfg/rules/acme-redaction.yaml"
printf 'rules:\n  - id: acme-quota\n    category: quota\n    message: x\n' >"$work/cfg/rules/acme-categories.yaml"
check "bad category rule file -> 1 (logs redact too)" rc 1 "$BIN" logs redact --config "$work/cfg/config.yaml" "$work/acme.log"
check "bad category rule file: file:line" grep -qF "$work/cfg/rules/acme-categories.yaml:2: rule acme-quota: unknown category 'quota'" "$work/err"
check "bad category rule file stops templates" rc 1 "$BIN" logs templates --config "$work/cfg/config.yaml" "$work/acme.log"
check "bad category rule file stops serve" rc 1 "$BIN" serve --config "$work/cfg/config.yaml"
check "serve names the file:line" grep -q "dagmedic serve: .*acme-categories.yaml:2: rule acme-quota" "$work/err"

# logs templates: counts, --json, --per-line JSON validity (one object per input line).
{ for i in $(seq 1 300); do
    printf '[2026-01-01, 00:00:%02d UTC] {taskinstance.py:%d} INFO - Starting attempt %d of 3\n' $((i % 60)) "$i" $((i % 3 + 1))
    printf '[2026-01-01, 00:01:%02d UTC] {logging_mixin.py:190} INFO - loaded %d rows from s3://raw/orders/dt=2026-01-%02d/part-%d.parquet\n' $((i % 60)) $((i * 37)) $((i % 28 + 1)) "$i"
  done; printf 'last line without newline'; } >"$work/t.log"
check "templates exit 0" rc 0 "$BIN" logs templates "$work/t.log"
"$BIN" logs templates --json "$work/t.log" >"$work/t.json"
check "templates --json" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["lines"] == 601, d["lines"]
counts = [t["count"] for t in d["templates"]]
assert counts == sorted(counts, reverse=True) and sum(counts) == 601, counts
assert counts[:2] == [300, 300] and len(counts) == 3, d
' "$work/t.json"
"$BIN" logs templates --per-line "$work/t.log" >"$work/p.jsonl"
check "templates --per-line" $PY -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert len(rows) == 601, len(rows)
assert [r["line"] for r in rows] == list(range(1, 602))
assert len({r["id"] for r in rows[0::2][:300]}) == 1 and len({r["id"] for r in rows[1::2][:300]}) == 1
assert all(isinstance(r["template"], str) for r in rows)
' "$work/p.jsonl"
printf 'bad \xff\xfe bytes \x01 "quoted" \\ back\n' | "$BIN" logs templates --per-line - >"$work/bin.jsonl"
check "per-line JSON with invalid UTF-8" $PY -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]' "$work/bin.jsonl"
# Several threads must not change anything: --threads 1 and 2 give byte-identical per-line output
# on a log of several 1 MiB blocks, with and without redaction, from a file and from stdin.
cat >"$work/gen.py" <<'PYEOF'
import random, sys
r = random.Random(7)
tasks, users, cols = ["load", "publish", "sync"], ["ann", "bob"], ["a", "b", "c"]
with open(sys.argv[1], "w") as f:
    for i in range(40000):
        k = r.randrange(4)
        if k == 0:
            d = i % 28 + 1
            f.write(f"[2026-01-{d:02d}, 00:{i % 60:02d}:00 UTC] INFO - loaded {r.randrange(10**6)} rows "
                    f"from s3://raw/dt=2026-01-{d:02d}/part-{i}.parquet\n")
        elif k == 1:
            f.write(f"task {r.choice(tasks)} try {r.randrange(1, 4)} of 3 on host ip-10-0-{r.randrange(255)}-{r.randrange(255)}\n")
        elif k == 2:
            f.write(f"password=hunter{i} user {r.choice(users)} logged in from 10.1.{r.randrange(255)}.{r.randrange(255)}\n")
        else:
            f.write(f"KeyError: {r.choice(cols)}_column {'x' * r.randrange(200)}\n")
PYEOF
$PY "$work/gen.py" "$work/big.log"
"$BIN" logs templates --per-line --threads 1 "$work/big.log" >"$work/t1.jsonl"
"$BIN" logs templates --per-line --threads 2 "$work/big.log" >"$work/t2.jsonl"
check "templates --threads 1 == --threads 2" cmp "$work/t1.jsonl" "$work/t2.jsonl"
check "templates --threads output covers every line" $PY -c 'import sys; assert sum(1 for _ in open(sys.argv[1])) == 40000' "$work/t1.jsonl"
# stdin: blocks read one at a time (through redaction) by whichever thread asks.
"$BIN" logs templates --per-line --threads 2 - <"$work/big.log" >"$work/t2s.jsonl"
check "templates --threads 2 on stdin == --threads 1" cmp "$work/t1.jsonl" "$work/t2s.jsonl"
# A regular file without redaction: every thread reads its own blocks (pread).
"$BIN" logs templates --per-line --no-redact --threads 1 "$work/big.log" >"$work/r1.jsonl"
for t in 2 3; do
  "$BIN" logs templates --per-line --no-redact --threads $t "$work/big.log" >"$work/r$t.jsonl"
  check "templates --no-redact --threads $t == --threads 1" cmp "$work/r1.jsonl" "$work/r$t.jsonl"
done
# A /proc file states size 0: it is read as a stream, not skipped as empty.
"$BIN" logs templates --no-redact --threads 2 /proc/self/status >"$work/proc.txt"
check "templates on a /proc file" $PY -c 'import sys, re; n = int(re.match(r"# (\d+) lines", open(sys.argv[1]).readline()).group(1)); assert n > 5, n' "$work/proc.txt"
"$BIN" logs templates "$work/t.log" >"$work/t.txt"
check "templates text output" grep -q "^# 601 lines, 3 templates" "$work/t.txt"

# logs templates grouping accuracy on labelled Loghub lines (tests/logs/loghub2k, corrected
# labels), raw lines and message part alone: must not regress. Floors are the figures reached
# (bench/templates/accuracy.py; docs/benchmarks/templates.md) minus a small margin. Accuracy
# only: nothing here is timed. drain3 is not needed for this check.
if DM_ACC_NO_DRAIN3=1 $PY "$DM_ROOT/bench/templates/accuracy.py" "$BIN" "$DM_ROOT/tests/logs/loghub2k" \
  --json "$work/acc.json" >"$work/acc.md" 2>"$work/acc.err"; then
  ok
  check "templates accuracy floors" $PY - "$work/acc.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
mean, sets = d["mean"], d["sets"]
MEAN_RAW, MEAN_MSG, SET_FLOOR = 0.90, 0.90, 0.50
assert len(sets) == 16, len(sets)
assert mean["dm_raw"] >= MEAN_RAW, ("raw mean", mean["dm_raw"])
assert mean["dm_msg"] >= MEAN_MSG, ("message mean", mean["dm_msg"])
low = [(s["set"], k, s[k]) for s in sets for k in ("dm_raw", "dm_msg") if s[k] < SET_FLOOR]
assert not low, low
PYEOF
else
  ko "templates accuracy harness: $(tail -3 "$work/acc.err")"
fi

dm_record "$STEP" "$passed" "$failed"
[ "$failed" -eq 0 ]
