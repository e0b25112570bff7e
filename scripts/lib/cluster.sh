# A throwaway PostgreSQL cluster owned by the postgres OS user, in a temporary
# directory, reachable only through a Unix socket in that directory.
# Source after common.sh.

# cluster_start [extra postgresql.conf lines...]; exports PGHOST PGPORT PGUSER PGDATABASE.
cluster_start() {
  CV_PGDIR=$(mktemp -d /tmp/cvpg.XXXXXX)
  chmod 755 "$CV_PGDIR"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$CV_PGDIR"
  as_postgres initdb -D "$CV_PGDIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$CV_PGDIR/initdb.log" 2>&1 || { cat "$CV_PGDIR/initdb.log" >&2; return 1; }
  {
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$CV_PGDIR'"
    echo "port = 5432"
    echo "shared_preload_libraries = 'pg_cron,contractor_verify'"
    echo "cron.database_name = 'postgres'"
    echo "cron.host = '$CV_PGDIR'"
    echo "contractor_verify.max_api_keys = 20"
    echo "max_prepared_transactions = 4"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "max_connections = 50"
    echo "log_min_messages = warning"
    echo "log_line_prefix = '%m [%p] %u@%d '"
    for line in "$@"; do echo "$line"; done
  } >>"$CV_PGDIR/data/postgresql.conf"
  as_postgres pg_ctl -D "$CV_PGDIR/data" -l "$CV_PGDIR/server.log" -w -t 60 start >/dev/null \
    || { cat "$CV_PGDIR/server.log" >&2; return 1; }
  export PGHOST="$CV_PGDIR" PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
  export CV_SERVER_LOG="$CV_PGDIR/server.log"
}

cluster_restart() {
  as_postgres pg_ctl -D "$CV_PGDIR/data" -l "$CV_PGDIR/server.log" -w -t 60 -m fast restart >/dev/null
}

cluster_stop() {
  [ -n "${CV_PGDIR:-}" ] && [ -d "$CV_PGDIR/data" ] || return 0
  as_postgres pg_ctl -D "$CV_PGDIR/data" -w -t 30 -m fast stop >/dev/null 2>&1 \
    || as_postgres pg_ctl -D "$CV_PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
  if [ -n "${CV_KEEP_LOGS:-}" ]; then
    cp "$CV_PGDIR/server.log" "$CV_KEEP_LOGS/server.log" 2>/dev/null || true
  fi
  rm -rf "$CV_PGDIR"
  CV_PGDIR=""
}
