#!/usr/bin/env bash
# PostgreSQL server binaries (initdb, pg_ctl, postgres) for the replica-store tests
# (dev/test.d/50-store-pg.sh starts a throwaway cluster; nothing is started here).
source "$(dirname "$0")/../lib.sh"
dm_apt postgresql
ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || dm_die "postgresql installed but initdb not found"
