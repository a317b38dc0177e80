# Shared helpers for dev/* scripts. Source it; it sets strict mode and these variables:
#   DM_ROOT   the repository
#   DM_CACHE  cache outside the repo (venvs, node tools, Airflow installs) so warm runs are fast
#   DM_BUILD  the normal build folder, DM_BUILD_ASAN the sanitizer build
#   DM_RESULTS folder where each test step records its counts (dm_record)
set -euo pipefail
DM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DM_CACHE="${DM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dagmedic}"
DM_BUILD="${DM_BUILD:-$DM_ROOT/build}"
DM_BUILD_ASAN="${DM_BUILD_ASAN:-$DM_ROOT/build-asan}"
DM_RESULTS="${DM_RESULTS:-$DM_BUILD/test-results}"
DM_VENV="$DM_CACHE/venv-tools"          # Python venv for test clients (mcp SDK, pytest, botocore…)
DM_NODE_TOOLS="$DM_CACHE/node-tools"    # npm packages: node@22, conformance suite, inspector, TS SDK
export DM_ROOT DM_CACHE DM_BUILD DM_BUILD_ASAN DM_RESULTS DM_VENV DM_NODE_TOOLS
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$DM_CACHE"
# Compiler cache outside the repo: a fresh clone (CI) recompiles only what changed. Paths are taken
# relative to the clone and its folder is not hashed, so clones at other paths share the entries.
export CCACHE_DIR="${CCACHE_DIR:-$DM_CACHE/ccache}" CCACHE_BASEDIR="${CCACHE_BASEDIR:-$DM_ROOT}"
export CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-8G}"

dm_log() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }
dm_die() { printf '[dev] error: %s\n' "$*" >&2; exit 1; }

# dm_apt PKG... : install Debian packages that are missing (apt-get update at most once per run).
dm_apt() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  dm_log "apt-get install ${missing[*]}"
  if [ -z "${DM_APT_UPDATED:-}" ]; then apt-get update -qq; export DM_APT_UPDATED=1; fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# dm_record STEP PASSED FAILED : a test step's counts, summed by dev/test at the end.
dm_record() {
  mkdir -p "$DM_RESULTS"
  echo "$2 $3" > "$DM_RESULTS/$1.counts"
  dm_log "$1: $2 passed, $3 failed"
}

# dm_pytest_record STEP JUNIT_XML : record counts from a pytest junit file.
dm_pytest_record() {
  python3 - "$1" "$2" <<'PY'
import sys, xml.etree.ElementTree as ET, os
step, path = sys.argv[1], sys.argv[2]
passed = failed = 0
if os.path.exists(path):
    r = ET.parse(path).getroot()
    for s in ([r] if r.tag == "testsuite" else r.findall("testsuite")):
        t, f, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        passed += t - f - e - sk; failed += f + e + sk  # a skipped test counts as not passed
else:
    failed = 1
os.makedirs(os.environ["DM_RESULTS"], exist_ok=True)
open(os.path.join(os.environ["DM_RESULTS"], step + ".counts"), "w").write(f"{passed} {failed}\n")
print(f"[dev] {step}: {passed} passed, {failed} failed", file=sys.stderr)
PY
}

# dm_free_port : prints a TCP port that is free on 127.0.0.1 right now.
dm_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# dm_stop_pid PID : SIGTERM, up to 5 s for it to go, then SIGKILL; reaps it if it is our child. Never fails.
dm_stop_pid() {
  [ -n "${1:-}" ] || return 0
  if kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
  fi
  wait "$1" 2>/dev/null || true
}

# dm_rig_down_all ROOT : brings down every rig whose state dir is a folder of ROOT (af3, af2, af3-cw: Airflow rigs;
# replicas: the processes tests/replicas starts with rig.py's bookkeeping). Never fails.
dm_rig_down_all() {
  local s
  for s in "$1"/*/; do
    s=${s%/}
    [ -d "$s" ] && "$DM_VENV/bin/python" "$DM_ROOT/tests/airflow/rig.py" down --state-dir "$s" >/dev/null 2>&1 || true
  done
}

# dm_rig_pytest STEP TESTS_DIR RIG_ROOT : a test step whose pytest fixtures start real Airflow rigs with their state
# dirs under RIG_ROOT (exported as DM_RIG_ROOT; kept after the step for debugging). Runs pytest on TESTS_DIR, records
# the counts, brings every rig down (also on an early exit) and fails the step if any rig process survived pytest's
# own teardown. Returns pytest's exit code, or 1 when a rig process survived.
dm_rig_pytest() {
  local step=$1 dir=$2 rc s p f leftover=0
  local junit="$DM_RESULTS/$step.xml"
  export DM_RIG_ROOT="$3" DM_BUILD
  unset DM_RIG_KEEP
  rm -rf "$DM_RIG_ROOT"; mkdir -p "$DM_RIG_ROOT"
  trap 'dm_rig_down_all "$DM_RIG_ROOT"' EXIT
  set +e
  ( cd "$dir" && "$DM_VENV/bin/python" -m pytest -p no:cacheprovider -q --timeout 1800 --junitxml="$junit" "$dir" )
  rc=$?
  set -e
  dm_pytest_record "$step" "$junit"
  for s in "$DM_RIG_ROOT"/*/; do
    s=${s%/}
    [ -d "$s" ] || continue
    if ! "$DM_VENV/bin/python" "$DM_ROOT/tests/airflow/rig.py" orphans --state-dir "$s"; then
      dm_log "$step: processes of rig $s survived pytest"; leftover=1
    fi
  done
  dm_rig_down_all "$DM_RIG_ROOT"
  if [ "$leftover" -ne 0 ]; then
    read -r p f < "$DM_RESULTS/$step.counts"
    dm_record "$step" "$p" $((f + 1))
    return 1
  fi
  return "$rc"
}
