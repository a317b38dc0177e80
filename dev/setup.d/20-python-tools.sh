#!/usr/bin/env bash
# Python venv for test clients and reference tools ($DM_VENV). Every dev/requirements/*.txt is
# installed into it; a stamp of their contents makes a warm run a no-op.
source "$(dirname "$0")/../lib.sh"
dm_apt python3 python3-venv python3-pip
reqs=("$DM_ROOT"/dev/requirements/*.txt)
[ -e "${reqs[0]}" ] || exit 0
stamp=$(cat "${reqs[@]}" | sha256sum | cut -c1-16)
if [ -f "$DM_VENV/.stamp" ] && [ "$(cat "$DM_VENV/.stamp")" = "$stamp" ]; then exit 0; fi
[ -x "$DM_VENV/bin/python" ] || python3 -m venv "$DM_VENV"
"$DM_VENV/bin/pip" install -q --upgrade pip >/dev/null
args=(); for r in "${reqs[@]}"; do args+=(-r "$r"); done
"$DM_VENV/bin/pip" install -q "${args[@]}"
echo "$stamp" > "$DM_VENV/.stamp"
