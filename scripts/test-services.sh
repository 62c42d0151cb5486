#!/usr/bin/env bash
# Runs a command with the services the end-to-end tests use, all private to
# this run: an unlocked gnome-keyring (the Secret Service the CLI keeps sync
# tokens in) and a PostgreSQL server on a loopback port. Call it inside
# `dbus-run-session` (scripts/test.sh does).
set -euo pipefail

# The keyring: kept in a throwaway directory so that no earlier run's
# keyring (with another password) is found; unlocking with a password
# creates the default collection.
keyring_home="$(mktemp -d -t raptorflow-keyring.XXXXXX)"
export XDG_DATA_HOME="$keyring_home"
eval "$(printf 'raptorflow-test\n' | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
export GNOME_KEYRING_CONTROL

# PostgreSQL: a throwaway cluster in a temporary directory, loopback only.
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
pg_dir="$(mktemp -d -t raptorflow-pg.XXXXXX)"
pg_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
run_pg() {
    # initdb and postgres refuse to run as root.
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" -eq 0 ]; then chown postgres "$pg_dir"; fi
run_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres --no-sync >"$pg_dir/initdb.log" 2>&1 \
    || { cat "$pg_dir/initdb.log" >&2; exit 1; }
run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=on" start >/dev/null \
    || { cat "$pg_dir/server.log" >&2; exit 1; }
stop_pg() {
    run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir" "$keyring_home"
}
trap stop_pg EXIT
export RAPTORFLOW_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"

"$@"
