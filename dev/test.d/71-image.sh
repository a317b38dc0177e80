#!/usr/bin/env bash
# Issue 17, the OCI image: packaging/build-image.sh turns an mmdebstrap root + the .deb of 70-package into an OCI
# image layout with umoci (no registry, no daemon; layout cached in $DM_CACHE/image keyed by the .deb's sha256).
# Then runs it as a runtime would, from `umoci unpack` (its runtime config.json: args, env, cwd, user), in a private
# mount namespace: the root filesystem bind-mounted READ-ONLY, a fresh folder as the /var/lib/dagmedic volume, the
# entrypoint chrooted as the image's user. Checks: non-root user, the default command answers an MCP initialize on
# stdio, `serve --transport http` on loopback answers initialize over HTTP, the state (store, audit key) lands on
# the volume, nothing else is writable. Prints the image size (also in $DM_RESULTS/71-image.numbers).
source "$(dirname "$0")/../lib.sh"
STEP=71-image
DM_BUILD_RELEASE="${DM_BUILD_RELEASE:-$DM_ROOT/build-release}"
if [ -z "${DM_PKG_IN_NS:-}" ]; then
  exec unshare --mount --propagation private --fork env DM_PKG_IN_NS=1 bash "$0" "$@"
fi
passed=0; failed=0
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); dm_log "FAIL: $*"; }
check() { local name=$1; shift; if "$@"; then ok; else ko "$name"; fi; }
finish() { dm_record "$STEP" "$passed" "$failed"; [ "$failed" -eq 0 ]; }
numbers="$DM_RESULTS/$STEP.numbers"
mkdir -p "$DM_RESULTS"; : >"$numbers"
number() { echo "$1=$2" >>"$numbers"; dm_log "$STEP: $1 = $2"; }
dm_apt mmdebstrap umoci python3 curl

deb=${DM_PKG_DEB:-$(ls "$DM_BUILD_RELEASE"/dist/dagmedic_*.deb 2>/dev/null | head -1)}
[ -n "$deb" ] && [ -f "$deb" ] || { ko "no .deb (70-package builds it)"; finish; exit 1; }
key=$( { sha256sum <"$deb"; sha256sum <"$DM_ROOT/packaging/build-image.sh"; umoci --version; mmdebstrap --version; } | sha256sum | cut -c1-16)
layout="$DM_CACHE/image/dagmedic-oci-$key"
if [ ! -f "$layout/index.json" ]; then
  t0=$(date +%s)
  rm -rf "$DM_CACHE/image"; mkdir -p "$DM_CACHE/image"
  bash "$DM_ROOT/packaging/build-image.sh" "$deb" "$layout.tmp" latest || { ko "build-image.sh"; finish; exit 1; }
  mv "$layout.tmp" "$layout"
  number image_build_seconds $(( $(date +%s) - t0 ))
fi
ok
number image_layout_bytes "$(du -sb "$layout/blobs" | cut -f1)"
number image_layer_compressed_bytes "$(python3 - "$layout" <<'PY'
import json, sys, os
L = sys.argv[1]
idx = json.load(open(os.path.join(L, "index.json")))
d = idx["manifests"][0]["digest"].split(":")[1]
m = json.load(open(os.path.join(L, "blobs/sha256", d)))
print(sum(l["size"] for l in m["layers"]))
PY
)"

work=$(mktemp -d "${TMPDIR:-/tmp}/dm-image-run.XXXXXX")
rootfs="$work/bundle/rootfs"; vol="$work/volume"
http_pid=
cleanup() {
  dm_stop_pid "$http_pid"
  umount -R "$rootfs" 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
umoci unpack --image "$layout:latest" "$work/bundle" >/dev/null
cfg="$work/bundle/config.json"
read -r uid gid cwd < <(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["process"]; print(p["user"]["uid"], p["user"]["gid"], p["cwd"])' "$cfg")
mapfile -t args < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["process"]["args"]))' "$cfg")
mapfile -t envs < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["process"]["env"]))' "$cfg")
check "image user is not root (uid $uid)" [ "$uid" -ne 0 ]
check "image user is dagmedic" grep -q "^dagmedic:x:$uid:$gid:" "$rootfs/etc/passwd"
check "entrypoint + default command is dagmedic serve --transport stdio" [ "${args[*]}" = "/usr/bin/dagmedic serve --transport stdio" ]
check "state volume declared" python3 -c 'import json,sys,glob
L=sys.argv[1]; idx=json.load(open(L+"/index.json")); m=json.load(open(L+"/blobs/sha256/"+idx["manifests"][0]["digest"][7:]))
c=json.load(open(L+"/blobs/sha256/"+m["config"]["digest"][7:]))
assert "/var/lib/dagmedic" in c["config"]["Volumes"], c' "$layout"
check "image label io.modelcontextprotocol.server.name is server.json's name" python3 -c 'import json,sys
L=sys.argv[1]; idx=json.load(open(L+"/index.json")); m=json.load(open(L+"/blobs/sha256/"+idx["manifests"][0]["digest"][7:]))
c=json.load(open(L+"/blobs/sha256/"+m["config"]["digest"][7:])); s=json.load(open(sys.argv[2]))
assert c["config"]["Labels"]["io.modelcontextprotocol.server.name"] == s["name"], (c["config"]["Labels"], s["name"])
assert c["config"]["Labels"]["org.opencontainers.image.version"] == s["version"] == s["packages"][0]["version"], s' "$layout" "$DM_ROOT/server.json"
check "server.json: name pattern, description <= 100, oci stdio package" python3 -c 'import json,re,sys
s=json.load(open(sys.argv[1]))
assert re.fullmatch(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+", s["name"]) and 1 <= len(s["description"]) <= 100, s
p=s["packages"][0]; assert p["registryType"] == "oci" and p["transport"]["type"] == "stdio" and p["version"] != "latest", p' "$DM_ROOT/server.json"
check "no apt in the image" bash -c "! test -e '$rootfs/usr/bin/apt-get'"

# The runtime: read-only root, a volume, /proc, the image's user, env and cwd.
mkdir -p "$vol"; chown "$uid:$gid" "$vol"; chmod 750 "$vol"
mount --bind "$rootfs" "$rootfs"
mount -o remount,bind,ro "$rootfs"
mount -t proc proc "$rootfs/proc"
mount --bind "$vol" "$rootfs/var/lib/dagmedic"
image_cmd() {  # CMD...: sets `cmd` to run the image with CMD in place of the default command (as `docker run IMAGE
  # CMD...` does; none: the default), as its user, with its env and cwd only
  local a=("${args[0]}"); if [ $# -gt 0 ]; then a+=("$@"); else a=("${args[@]}"); fi
  cmd=(chroot --userspec="$uid:$gid" --groups="$gid" "$rootfs" /usr/bin/env -i -C "$cwd" "${envs[@]}" "${a[@]}")
}
check "root filesystem is read-only" bash -c "! touch '$rootfs/etc/dm-write-test' 2>/dev/null"
image_cmd version; timeout 30 "${cmd[@]}" </dev/null >"$work/version.out" 2>&1 || true
check "image runs: version says Release" grep -q "Release build" "$work/version.out"

init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"dm-image-test","version":"1"}}}'
check_init() {
  python3 - "$1" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
# stdio: one JSON line; HTTP: a JSON body or an SSE stream with a data: line
line = next(l[5:] if l.startswith("data:") else l for l in text.splitlines() if l.strip().startswith(("{", "data:")))
r = json.loads(line)
assert r["id"] == 1 and r["result"]["serverInfo"]["name"] == "dagmedic", r
PY
}
image_cmd; printf '%s\n' "$init" | timeout 30 "${cmd[@]}" \
  >"$work/stdio.out" 2>"$work/stdio.err" || true
check "default command answers initialize over stdio (read-only root)" check_init "$work/stdio.out"
[ -s "$work/stdio.out" ] || sed 's/^/  stdio: /' "$work/stdio.err" >&2

port=$(dm_free_port)
image_cmd serve --transport http --port "$port"; "${cmd[@]}" </dev/null >"$work/http.out" 2>"$work/http.err" &
http_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/mcp" && break; sleep 0.1; done
curl -s -m 10 -X POST "http://127.0.0.1:$port/mcp" -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' \
  -d "$init" >"$work/http-init.out" || true
check "serve --transport http answers initialize on loopback (read-only root)" check_init "$work/http-init.out"
[ -s "$work/http-init.out" ] || sed 's/^/  http: /' "$work/http.err" >&2
dm_stop_pid "$http_pid"; http_pid=

image_cmd audit verify; timeout 30 "${cmd[@]}" </dev/null >"$work/verify.out" 2>&1 || true
check "audit verify in the image" grep -q "^audit OK" "$work/verify.out"
check "store on the volume" test -f "$vol/dagmedic.db"
check "audit key on the volume, 0600, image user" [ "$(stat -c '%a %u' "$vol/audit.key" 2>/dev/null)" = "600 $uid" ]
dm_log "$STEP: layout $layout, $(( $(du -sb "$layout/blobs" | cut -f1) / 1024 / 1024 )) MiB"
finish
