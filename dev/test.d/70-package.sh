#!/usr/bin/env bash
# Issue 17, the package: the hardened release build, the Debian package (CPack DEB) and the fresh-machine test.
#  1. Builds the release tree ($DM_BUILD_RELEASE, default build-release/: CMakePresets.json "release",
#     ccache when present) and the .deb (cpack), unless DM_PKG_DEB names a .deb to test instead.
#  2. Checks the binary as checksec does: PIE (ELF type DYN, FLAGS_1 PIE), full RELRO (GNU_RELRO + BIND_NOW),
#     non-executable stack, stack protector and FORTIFY (__*_chk) symbols, -D_FORTIFY_SOURCE=3 on every
#     compile, no debug info in the packaged binary but a .gnu_debuglink to pkg/dagmedic.debug with the same
#     build id; `dagmedic version` says Release. Checks the .deb's files and its computed Depends.
#  3. In a clean Debian 12 root made by mmdebstrap (tarball cached in $DM_CACHE/pkgtest, keyed by its
#     package list and sources; apt's downloaded .debs cached there too), in a private mount namespace:
#     `apt-get install ./dagmedic_*.deb` (timed), `dagmedic doctor`, `dagmedic serve --transport stdio`
#     answering an MCP initialize (as root, and as the dagmedic user with the service's config, which
#     creates the store in /var/lib/dagmedic), `systemd-analyze verify` and `security --offline` on the
#     unit, man pages, then purge (user gone, state kept and root-owned), reinstall (state handed back)
#     and purge with DAGMEDIC_PURGE_STATE=yes (state gone).
# Prints the .deb size and the install time (also in $DM_RESULTS/70-package.numbers).
source "$(dirname "$0")/../lib.sh"
STEP=70-package
DM_BUILD_RELEASE="${DM_BUILD_RELEASE:-$DM_ROOT/build-release}"
export DM_BUILD_RELEASE

# Everything below runs in a private mount namespace: /proc mounted in the test root and the apt cache
# bound into it vanish with the step, whatever happens to it.
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

dm_apt mmdebstrap dpkg-dev binutils python3

# --- 1. release build + .deb -------------------------------------------------------------------------------------
if [ -n "${DM_PKG_DEB:-}" ]; then
  deb=$DM_PKG_DEB
else
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  fi
  t0=$(date +%s)
  ( cd "$DM_ROOT" && cmake --preset release -B "$DM_BUILD_RELEASE" "${launcher[@]}" >/dev/null )
  cmake --build "$DM_BUILD_RELEASE" -j "$(nproc)" --target dagmedic dm_package_files
  rm -rf "$DM_BUILD_RELEASE/dist"
  ( cd "$DM_BUILD_RELEASE" && cpack -G DEB >/dev/null ) || { ko "cpack"; finish; exit 1; }
  number release_build_and_cpack_seconds $(( $(date +%s) - t0 ))
  deb=$(ls "$DM_BUILD_RELEASE"/dist/dagmedic_*.deb)
fi
[ -f "$deb" ] || { ko "no .deb"; finish; exit 1; }
number deb "$(basename "$deb")"
number deb_bytes "$(stat -c %s "$deb")"

# --- 2. the binary and the package -------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/dm-pkg.XXXXXX")
root="$work/root"
cleanup() {
  # Never follow a mount out of the test root (the bound apt cache, /proc): --one-file-system.
  umount -R "$root/proc" 2>/dev/null || true
  umount "$root/var/cache/apt/archives" 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
dpkg-deb -x "$deb" "$work/x"
dpkg-deb -f "$deb" >"$work/control"
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$work/files"
bin="$work/x/usr/bin/dagmedic"
readelf -h "$bin" >"$work/elf-h"; readelf -dW "$bin" >"$work/elf-d"; readelf -lW "$bin" >"$work/elf-l"
readelf -SW "$bin" >"$work/elf-S"; readelf --dyn-syms -W "$bin" >"$work/elf-syms"
check "PIE: ELF type DYN" grep -q "Type:.*DYN" "$work/elf-h"
check "PIE: FLAGS_1 has PIE" grep -Eq "FLAGS_1.*PIE" "$work/elf-d"
check "full RELRO: GNU_RELRO segment" grep -q "GNU_RELRO" "$work/elf-l"
check "full RELRO: BIND_NOW" grep -Eq "\(FLAGS\).*BIND_NOW|FLAGS_1.*NOW" "$work/elf-d"
check "stack not executable" bash -c "grep GNU_STACK '$work/elf-l' | grep -qv RWE"
check "stack protector: __stack_chk_fail" grep -q "__stack_chk_fail" "$work/elf-syms"
nchk=$( { grep -Eo "__[a-z0-9_]+_chk\b" "$work/elf-syms" || true; } | grep -v "^__stack_chk$" | sort -u | wc -l)
number fortify_chk_functions "$nchk"
check "FORTIFY: __*_chk symbols" [ "$nchk" -ge 3 ]
check "no debug info in the packaged binary" bash -c "! grep -q '\.debug_info' '$work/elf-S'"
check ".gnu_debuglink to dagmedic.debug" bash -c "readelf -p .gnu_debuglink '$bin' | grep -q dagmedic.debug"
check "version says Release" bash -c "'$bin' version | grep -q 'Release build'"
if [ -z "${DM_PKG_DEB:-}" ]; then
  dbg="$DM_BUILD_RELEASE/pkg/dagmedic.debug"
  check "debug file has .debug_info" bash -c "readelf -SW '$dbg' | grep -q '\.debug_info'"
  bid() { readelf -n "$1" 2>/dev/null | awk '/Build ID/ {print $3}'; }
  b1=$(bid "$bin"); b2=$(bid "$dbg")
  check "debug file matches the build id" test -n "$b1" -a "$b1" = "$b2"
  number debug_file_bytes "$(stat -c %s "$dbg")"
  # Every compiled translation unit got the hardening flags (FORTIFY level 3 is not visible in the binary).
  check "every compile has -D_FORTIFY_SOURCE=3 -fstack-protector-strong" python3 - "$DM_BUILD_RELEASE/compile_commands.json" <<'PY'
import json, sys
cmds = json.load(open(sys.argv[1]))
bad = [c["file"] for c in cmds if "-D_FORTIFY_SOURCE=3" not in c["command"] or "-fstack-protector-strong" not in c["command"]
       or " -O2 " not in c["command"]]
assert cmds and not bad, bad[:5]
PY
fi
number binary_bytes "$(stat -c %s "$bin")"
for f in /usr/bin/dagmedic /lib/systemd/system/dagmedic.service /lib/systemd/system/dagmedic-watch.service \
         /etc/dagmedic/config.yaml \
         /usr/share/dagmedic/rules/redaction.yaml /usr/share/dagmedic/rules/categories.yaml \
         /usr/share/doc/dagmedic/examples/config.yaml /usr/share/doc/dagmedic/README.Debian \
         /usr/share/man/man1/dagmedic.1.gz; do
  check "package has $f" grep -qx "$f" "$work/files"
done
for c in serve logs doctor approvals audit mcp-config version watch login logout; do
  check "man page for $c" grep -qx "/usr/share/man/man1/dagmedic-$c.1.gz" "$work/files"
done
depends=$(sed -n 's/^Depends: //p' "$work/control")
number depends "\"$depends\""
for d in adduser libc6 libstdc++6 libcurl4 libssl3 libyaml-cpp0.7 libsqlite3-0 libpqxx-6.4; do
  check "Depends names $d" bash -c 'tr "," "\n" <<<"$1" | sed "s/^ *//; s/ .*//" | grep -Fxq "$2"' _ "$depends" "$d"
done
check "Depends names vectorscan" grep -q "libvectorscan\|libhs" <<<"$depends"
check "conffile /etc/dagmedic/config.yaml" bash -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./conffiles | grep -qx /etc/dagmedic/config.yaml"

# --- 3. the fresh Debian 12 root -----------------------------------------------------------------------------------
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
include="ca-certificates,systemd"
key=$( { mmdebstrap --version; echo "variant=apt include=$include bookworm"; cat "$sources"; } | sha256sum | cut -c1-16)
tarball="$DM_CACHE/pkgtest/bookworm-$key.tar"
mkdir -p "$DM_CACHE/pkgtest/apt-archives/partial"
# A root older than two weeks is made again (security updates; apt would upgrade it anyway).
if [ -f "$tarball" ] && [ -n "$(find "$tarball" -mtime +14)" ]; then rm -f "$tarball"; fi
if [ ! -f "$tarball" ]; then
  t0=$(date +%s)
  rm -rf --one-file-system "$tarball.tmp"
  mmdebstrap --quiet --mode=root --format=tar --variant=apt --include="$include" bookworm "$tarball.tmp" "$sources"
  mv "$tarball.tmp" "$tarball"
  number mmdebstrap_seconds $(( $(date +%s) - t0 ))
fi
mkdir -p "$root"
tar -C "$root" -xf "$tarball"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --bind "$DM_CACHE/pkgtest/apt-archives" "$root/var/cache/apt/archives"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
in_root apt-get update -qq
check "dagmedic not there before" bash -c "! chroot '$root' test -e /usr/bin/dagmedic"
t0=$(date +%s.%N)
if in_root apt-get install -y -qq "/tmp/$(basename "$deb")" >"$work/install.log" 2>&1; then ok; else ko "apt-get install ./deb"; cat "$work/install.log" >&2; fi
number fresh_root_install_seconds "$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 1))")"
number fresh_root_installed_packages "$(grep -c '^Setting up' "$work/install.log" || true)"

check "dagmedic user is a system user" bash -c "uid=\$(chroot '$root' id -u dagmedic) && [ \"\$uid\" -lt 1000 ]"
check "dagmedic user has no shell" bash -c "chroot '$root' getent passwd dagmedic | grep -q ':/usr/sbin/nologin$'"
check "/var/lib/dagmedic 0750 dagmedic" [ "$(in_root stat -c '%a %U %G' /var/lib/dagmedic)" = "750 dagmedic dagmedic" ]
check "/etc/dagmedic/config.yaml 0640 root:dagmedic" [ "$(in_root stat -c '%a %U %G' /etc/dagmedic/config.yaml)" = "640 root dagmedic" ]
check "installed dagmedic version says Release" bash -c "chroot '$root' /usr/bin/dagmedic version | grep -q 'Release build'"
check "all libraries resolve" bash -c "! chroot '$root' ldd /usr/bin/dagmedic | grep -q 'not found'"

# doctor with no config: runs, says what to add, exits 1 (no environment); a crash or a missing library is not 1.
set +e
in_root dagmedic doctor >"$work/doctor.out" 2>&1
rc=$?
set -e
check "doctor exits 1 with no environment (got $rc)" [ "$rc" -eq 1 ]
check "doctor says to add an environment" grep -q "no environments configured" "$work/doctor.out"
# doctor on the service's config, as the service user.
set +e
in_root runuser -u dagmedic -- dagmedic doctor --config /etc/dagmedic/config.yaml >"$work/doctor2.out" 2>&1
rc=$?
set -e
check "doctor --config /etc/dagmedic/config.yaml as dagmedic runs (rc $rc)" [ "$rc" -le 1 ]
check "doctor read /etc/dagmedic/config.yaml" grep -q "/etc/dagmedic/config.yaml" "$work/doctor2.out"

init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"dm-pkg-test","version":"1"}}}'
check_init() {  # FILE: one JSON-RPC answer with id 1, serverInfo dagmedic and a protocol version
  python3 - "$1" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
r = json.loads(lines[0])
assert r["id"] == 1 and r["result"]["serverInfo"]["name"] == "dagmedic", r
assert r["result"]["protocolVersion"] == "2025-11-25", r
assert "tools" in r["result"]["capabilities"], r
PY
}
serve_init() {  # OUT ARGS...: pipe initialize into `serve --transport stdio` in the root (stdin closes after it)
  local out=$1; shift
  printf '%s\n' "$init" | timeout 30 chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    "$@" >"$out" 2>"$out.err" || true
}
serve_init "$work/init1.out" HOME=/root dagmedic serve --transport stdio
check "serve --transport stdio answers initialize (root, no config)" check_init "$work/init1.out"
serve_init "$work/init2.out" runuser -u dagmedic -- env HOME=/var/lib/dagmedic \
  dagmedic serve --transport stdio --config /etc/dagmedic/config.yaml
check "serve answers initialize as dagmedic with the service config" check_init "$work/init2.out"
serve_init "$work/init3.out" HOME=/root dagmedic serve --transport stdio --config /usr/share/doc/dagmedic/examples/config.yaml
check "the packaged example config is accepted (initialize)" check_init "$work/init3.out"
[ -s "$work/init3.out" ] || sed 's/^/  example config: /' "$work/init3.out.err" >&2
# The service user's first use created its store and audit key in /var/lib/dagmedic.
in_root runuser -u dagmedic -- env HOME=/var/lib/dagmedic dagmedic audit verify --config /etc/dagmedic/config.yaml \
  >"$work/verify.out" 2>&1 || true
check "store created in /var/lib/dagmedic" in_root test -f /var/lib/dagmedic/dagmedic.db
check "audit key 0600 dagmedic" [ "$(in_root stat -c '%a %U' /var/lib/dagmedic/audit.key 2>/dev/null)" = "600 dagmedic" ]
check "audit verify OK as dagmedic" grep -q "^audit OK" "$work/verify.out"

# The units.
# --man=no: a fresh root has no man-db to look up Documentation=man:dagmedic-*(1); their files are checked above.
for unit in dagmedic dagmedic-watch; do
  in_root systemd-analyze verify --man=no /lib/systemd/system/$unit.service >"$work/verify-$unit.out" 2>&1 && ok \
    || { ko "systemd-analyze verify $unit.service"; cat "$work/verify-$unit.out" >&2; }
  check "systemd-analyze verify $unit.service said nothing" [ ! -s "$work/verify-$unit.out" ]
  in_root systemd-analyze security --offline=yes --no-pager /lib/systemd/system/$unit.service >"$work/security-$unit.out" 2>&1 || true
  exposure=$(sed -n "s/.*Overall exposure level for $unit.service: \([0-9.]*\).*/\1/p" "$work/security-$unit.out")
  number "systemd_exposure_$unit" "${exposure:-none}"
  check "$unit.service exposure below 2.0 (got ${exposure:-none})" python3 -c "import sys; sys.exit(0 if '${exposure}' and float('${exposure:-99}') < 2.0 else 1)"
done
for c in serve logs doctor approvals audit mcp-config version watch login logout; do
  check "man page dagmedic-$c is roff" bash -c "zcat '$root/usr/share/man/man1/dagmedic-$c.1.gz' | head -1 | grep -q '^\.TH DAGMEDIC'"
done

# Purge keeps the state (root-owned), removes the user; a reinstall hands the state back; opt-in purge deletes it.
in_root apt-get purge -y -qq dagmedic >"$work/purge.log" 2>&1 || { ko "apt-get purge"; cat "$work/purge.log" >&2; }
check "purge removed the binary" bash -c "! test -e '$root/usr/bin/dagmedic'"
check "purge removed the dagmedic user" bash -c "! chroot '$root' getent passwd dagmedic"
check "purge kept the audit store" test -f "$root/var/lib/dagmedic/dagmedic.db"
check "kept state is root-owned 0700" [ "$(in_root stat -c '%a %U' /var/lib/dagmedic)" = "700 root" ]
check "purge said where the state is" grep -q "kept /var/lib/dagmedic" "$work/purge.log"
in_root apt-get install -y -qq "/tmp/$(basename "$deb")" >"$work/install2.log" 2>&1 || { ko "reinstall"; cat "$work/install2.log" >&2; }
check "reinstall hands the state back to dagmedic" \
  [ "$(in_root stat -c %U /var/lib/dagmedic /var/lib/dagmedic/dagmedic.db /var/lib/dagmedic/audit.key | sort -u)" = dagmedic ]
check "reinstall: /var/lib/dagmedic 0750 again" [ "$(in_root stat -c %a /var/lib/dagmedic)" = 750 ]
in_root runuser -u dagmedic -- env HOME=/var/lib/dagmedic dagmedic audit verify --config /etc/dagmedic/config.yaml \
  >"$work/verify2.out" 2>&1 || true
check "the kept audit chain verifies after reinstall" grep -q "^audit OK" "$work/verify2.out"
chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive DAGMEDIC_PURGE_STATE=yes \
  apt-get purge -y -qq dagmedic >"$work/purge2.log" 2>&1 || { ko "apt-get purge (opt-in)"; cat "$work/purge2.log" >&2; }
check "DAGMEDIC_PURGE_STATE=yes purge deletes the state" bash -c "! test -e '$root/var/lib/dagmedic'"

dm_log "$STEP: $(basename "$deb") $(( $(stat -c %s "$deb") / 1024 )) KiB; $(grep fresh_root_install_seconds "$numbers")"
finish
