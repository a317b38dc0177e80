#!/usr/bin/env bash
# Log path benchmark (never run by tests; issue 12): task_log (tail 200) and extract_task_errors on task logs of
# 5 / 50 / 500 MB served by a real Airflow 3 rig, the current dagmedic next to the baseline before issue 12 (commit
# 2a7b3b8, built in its own worktree), with the time Airflow alone takes to serve each log (curl); then the
# CloudWatch path on moto (GetLogEvents pages for a tail). Writes docs/benchmarks/logpath.md.
#
#   bash bench/logpath/run.sh                       # builds what is missing, starts an Airflow 3 rig and moto
#   bash bench/logpath/run.sh --rig DIR/rig.json    # use a running Airflow 3 rig (tests/airflow/rig.py up --airflow 3)
#   SIZES=5,50 bash bench/logpath/run.sh --no-write # smaller sizes, print only
# BASE_REV (default 2a7b3b8) and BASE_DIR (default /work/wt-base) name the baseline; CW_SIZES the moto streams (MB);
# RUNS calls per (binary, tool, size), median reported (default 2).
source "$(dirname "$0")/../../dev/lib.sh"
rig_json="" write=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rig) rig_json="$2"; shift 2 ;;
    --no-write) write=0; shift ;;
    *) dm_die "unknown argument $1 (see the header of $0)" ;;
  esac
done
BASE_REV="${BASE_REV:-2a7b3b8}"
BASE_DIR="${BASE_DIR:-/work/wt-base}"
SIZES="${SIZES:-5,50,500}"
CW_SIZES="${CW_SIZES:-5,50}"

build() {  # build DIR SRC TARGETS...
  local b="$1" s="$2"; shift 2
  [ -f "$b/build.ninja" ] || cmake -S "$s" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    ${CCACHE_DIR:+-DCMAKE_CXX_COMPILER_LAUNCHER=ccache} >/dev/null
  cmake --build "$b" --target "$@" -j2
}
build "$DM_BUILD" "$DM_ROOT" dagmedic cw-tail-bench
if [ ! -x "$BASE_DIR/build/dagmedic" ]; then
  [ -d "$BASE_DIR" ] || git -C "$DM_ROOT" worktree add --detach "$BASE_DIR" "$BASE_REV"
  build "$BASE_DIR/build" "$BASE_DIR" dagmedic
fi

state="" moto_pid=""
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null
  if [ -n "$state" ]; then
    "$DM_VENV/bin/python" "$DM_ROOT/tests/airflow/rig.py" down --state-dir "$state" >/dev/null 2>&1 || true
    rm -rf "$state"
  fi
}
trap cleanup EXIT
if [ -z "$rig_json" ]; then
  state=$(mktemp -d /tmp/dm-logpath-rig.XXXXXX)
  dm_log "starting an Airflow 3 rig with the zoo in $state"
  "$DM_VENV/bin/python" "$DM_ROOT/tests/airflow/rig.py" up --airflow 3 --state-dir "$state" </dev/null
  rig_json="$state/rig.json"
fi
moto_port=$("$DM_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DM_VENV/bin/moto_server" -p "$moto_port" >/dev/null 2>&1 &
moto_pid=$!
for _ in $(seq 50); do curl -s "http://127.0.0.1:$moto_port/" >/dev/null && break; sleep 0.2; done

out=()
[ "$write" = 1 ] && out=(--out "$DM_ROOT/docs/benchmarks/logpath.md")
"$DM_VENV/bin/python" "$DM_ROOT/bench/logpath/logpath.py" --rig "$rig_json" --dagmedic "$DM_BUILD/dagmedic" \
  --baseline "$BASE_DIR/build/dagmedic" --sizes "$SIZES" --cw-bench "$DM_BUILD/bench/cw-tail-bench" \
  --cw-sizes "$CW_SIZES" --moto-port "$moto_port" --runs "${RUNS:-2}" "${out[@]}"
