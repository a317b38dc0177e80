# A throwaway PostgreSQL cluster for test steps (dev/test.d/50-store-pg.sh, 49-watch-leases.sh).
# Source it after dev/lib.sh, then:
#   dm_pg_start DIR  initdb in DIR/data, start on 127.0.0.1 and a free port (trust auth, fsync off,
#                    socket in DIR/sock), create database dmtest; exports DM_PG_BIN (the server's
#                    bin folder: psql, createdb…), DM_PG_PORT and DM_TEST_PG_DSN (key=value form).
#   dm_pg_stop DIR   stop it (immediate); never fails. Call it from the step's EXIT trap.
# Root cannot run postgres: as root the cluster runs as the `postgres` user (runuser), and DIR is
# handed to that user.
DM_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
DM_PG_STARTED=0

dm_as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

dm_pg_start() {
  local dir=$1 port
  [ -n "$DM_PG_BIN" ] && [ -x "$DM_PG_BIN/initdb" ] || dm_die "PostgreSQL not installed (run dev/setup)"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || dm_die "user postgres missing (Debian's postgresql package creates it)"
    chown postgres "$dir"; chmod 700 "$dir"
  fi
  port=$(dm_free_port)
  dm_as_pg "$DM_PG_BIN/initdb" -D "$dir/data" -U dm -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; dm_die "initdb failed"; }
  mkdir -p "$dir/sock"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir/sock"; fi
  DM_PG_STARTED=1
  dm_as_pg "$DM_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c fsync=off -c full_page_writes=off" start >/dev/null \
    || { cat "$dir/server.log" >&2; dm_die "postgres did not start"; }
  dm_as_pg "$DM_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U dm dmtest
  DM_PG_PORT=$port
  DM_TEST_PG_DSN="host=127.0.0.1 port=$port dbname=dmtest user=dm connect_timeout=10"
  export DM_PG_BIN DM_PG_PORT DM_TEST_PG_DSN
  dm_log "postgres $("$DM_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

dm_pg_stop() {
  if [ "$DM_PG_STARTED" = 1 ]; then
    dm_as_pg "$DM_PG_BIN/pg_ctl" -D "$1/data" -m immediate -w stop >/dev/null 2>&1 || true
    DM_PG_STARTED=0
  fi
}
