#!/usr/bin/env bash
# build-image.sh DEB OCI_DIR [TAG]: an OCI image layout of dagmedic built without any registry or daemon:
# a Debian 12 root made by mmdebstrap (essential packages + the .deb and its dependencies, no apt, no docs)
# added as one layer with umoci, configured to run as the non-root `dagmedic` user with its state on a
# volume at /var/lib/dagmedic (the root filesystem can be read-only). Entrypoint /usr/bin/dagmedic,
# default command `serve --transport stdio` (an MCP client's `docker run -i --rm IMAGE`); for HTTP pass
# `serve --transport http --bind 0.0.0.0 --config /etc/dagmedic/config.yaml` with a config that has
# `auth:` (docs/deploy.md). Needs root (mmdebstrap --mode=root), mmdebstrap and umoci (Debian packages).
# Load it with `skopeo copy oci:OCI_DIR:TAG docker-daemon:dagmedic:TAG` or `podman load`, or push it.
set -euo pipefail
deb=$(realpath "$1"); out=$2; tag=${3:-latest}
[ -f "$deb" ] || { echo "build-image.sh: no .deb at $1" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/dm-image.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list

# The root: no apt, no documentation but dagmedic's, no man pages; the apt lists and caches removed.
mmdebstrap --quiet --mode=root --variant=essential --format=tar \
  --include="ca-certificates,$deb" \
  --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/dagmedic/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='chroot "$1" dagmedic version' \
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*.log "$1"/var/cache/debconf/*-old' \
  --customize-hook='chroot "$1" id -u dagmedic > "$1"/tmp/dm-uid; chroot "$1" id -g dagmedic > "$1"/tmp/dm-gid; cp "$1"/tmp/dm-uid "$1"/tmp/dm-gid '"$work"'/; rm -f "$1"/tmp/dm-uid "$1"/tmp/dm-gid' \
  bookworm "$work/root.tar" "$sources"
uid=$(cat "$work/dm-uid"); gid=$(cat "$work/dm-gid")
# The MCP registry checks an OCI package's ownership by this label: the name in server.json.
mcp_name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$(dirname "$0")/../server.json")

rm -rf "$out"
umoci init --layout "$out"
umoci new --image "$out:$tag"
umoci raw add-layer --image "$out:$tag" "$work/root.tar"
tar -xOf "$work/root.tar" ./var/lib/dpkg/status >"$work/status"
version=$(awk '/^Package: dagmedic$/ {p=1} p && /^Version:/ {print $2; exit}' "$work/status")
umoci config --image "$out:$tag" \
  --author="dagmedic" \
  --config.user="$uid:$gid" \
  --config.entrypoint=/usr/bin/dagmedic \
  --config.cmd=serve --config.cmd=--transport --config.cmd=stdio \
  --config.env=HOME=/var/lib/dagmedic --config.env=XDG_STATE_HOME=/var/lib \
  --config.env=DAGMEDIC_CONFIG=/etc/dagmedic/config.yaml \
  --config.env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.workingdir=/var/lib/dagmedic \
  --config.volume=/var/lib/dagmedic \
  --config.exposedports=8765/tcp \
  --config.label=org.opencontainers.image.title=dagmedic \
  --config.label=io.modelcontextprotocol.server.name="$mcp_name" \
  --config.label=org.opencontainers.image.version="$version" \
  --config.label=org.opencontainers.image.description="MCP server and CLI for incident response on Apache Airflow and Amazon MWAA"
umoci gc --layout "$out"
echo "build-image.sh: $out:$tag (dagmedic $version, user $uid:$gid)"
