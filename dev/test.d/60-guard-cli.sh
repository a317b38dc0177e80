#!/usr/bin/env bash
# `dagmedic approvals` and `dagmedic audit` end to end on a temporary SQLite store: exit codes,
# the generated audit key (0600), decisions on unknown ids are refused and audited, `audit verify`
# is OK on an untouched chain and reports TAMPERED (exit 1) after an entry is edited in the file,
# `audit export` writes valid JSON lines. (Tool-level cases: runbook_tests Remediate*.)
source "$(dirname "$0")/../lib.sh"
STEP=60-guard-cli
BIN="${DM_DAGMEDIC:-$DM_BUILD/dagmedic}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0; failed=0
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); dm_log "FAIL: $*"; }
check() { local name=$1; shift; if "$@"; then ok; else ko "$name"; fi; }
[ -x "$BIN" ] || { dm_log "no dagmedic binary at $BIN"; dm_record "$STEP" 0 1; exit 1; }

cat >"$work/config.yaml" <<YAML
store: {backend: sqlite, path: $work/state/dagmedic.db}
identity: {principal: alice}
audit: {checkpoint_every: 2}
YAML
export DAGMEDIC_CONFIG="$work/config.yaml"
rc() { local want=$1; shift; "$@" >"$work/out" 2>"$work/err" </dev/null; [ $? -eq "$want" ]; }

check "approvals without subcommand -> 2" rc 2 "$BIN" approvals
check "approve without --reason -> 2" rc 2 "$BIN" approvals approve abc
check "no --principal flag exists -> 2" rc 2 "$BIN" approvals approve abc --reason x --principal bob
check "audit without subcommand -> 2" rc 2 "$BIN" audit
check "list on a fresh store -> 0" rc 0 "$BIN" approvals list --state all
check "key file created" test -f "$work/state/audit.key"
check "key file is 0600" [ "$(stat -c %a "$work/state/audit.key" 2>/dev/null)" = "600" ]
check "key creation announced" grep -q "created the audit key" "$work/err"
check "show unknown -> 1" rc 1 "$BIN" approvals show 00000000000000000000000000000000
check "approve unknown -> 1" rc 1 "$BIN" approvals approve 00000000000000000000000000000000 --reason ok
check "approve unknown says not found" grep -qi "not found\|unknown" "$work/err"
check "deny unknown -> 1" rc 1 "$BIN" approvals deny 00000000000000000000000000000001 --reason no
check "verify OK -> 0" rc 0 "$BIN" audit verify
check "verify prints OK" grep -q "^audit OK" "$work/out"
check "checkpoint -> 0" rc 0 "$BIN" audit checkpoint
check "export -> 0" rc 0 "$BIN" audit export --out "$work/audit.jsonl"
check "export has lines" [ -s "$work/audit.jsonl" ]
check "export is JSON lines" python3 -c '
import json, sys, hashlib
prev = "0" * 64
for line in open(sys.argv[1]):
    r = json.loads(line)
    body = json.dumps(r["entry"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert r["prev_hash"] == prev, "chain broken"
    assert hashlib.sha256((prev + body).encode()).hexdigest() == r["hash"], "hash mismatch"
    prev = r["hash"]
' "$work/audit.jsonl"

# Tamper: edit one entry directly in the database (dropping the append-only trigger first, as an
# attacker with file access could); verify must fail with exit 1.
python3 - "$work/state/dagmedic.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (name,) in db.execute("select name from sqlite_master where type='trigger'").fetchall():
    db.execute(f'drop trigger "{name}"')
cols = [r[1] for r in db.execute("pragma table_info(audit_log)")]
body = "body" if "body" in cols else [c for c in cols if "body" in c or "entry" in c][0]
db.execute(f"update audit_log set {body} = replace({body}, 'refused', 'allowed') where seq = 1")
db.commit()
PY
check "verify after tamper -> 1" rc 1 "$BIN" audit verify
check "verify says TAMPERED" grep -q "TAMPERED" "$work/out"

dm_log "$STEP: $passed passed, $failed failed"
dm_record "$STEP" "$passed" "$failed"
[ "$failed" -eq 0 ]
