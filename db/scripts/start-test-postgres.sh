#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for atrium-db's tests and print its URL.
#
# Run as root. Idempotent: if the cluster already answers, it only prints the URL.
#   export ATRIUM_TEST_POSTGRES_URL=$(db/scripts/start-test-postgres.sh)
#
# Host connections use scram-sha-256 (not trust) so that the wrong-password test
# really gets rejected. TLS is on (self-signed certificate); role atrium_tls (same password
# as atrium) may connect over TLS only, which the TLS test relies on.
# Settings (environment):
#   ATRIUM_PG_PORT  port on 127.0.0.1            (default 55432)
#   ATRIUM_PG_DIR   data directory, also socket   (default /tmp/atrium-test-postgres)
set -euo pipefail

port=${ATRIUM_PG_PORT:-55432}
dir=${ATRIUM_PG_DIR:-/tmp/atrium-test-postgres}
user=atrium
password=atrium
database=atrium_test
url="postgres://${user}:${password}@127.0.0.1:${port}/${database}"

die() { echo "start-test-postgres: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it runs initdb/pg_ctl as the postgres user)"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] && [ -x "$bin/initdb" ] || die "PostgreSQL server not installed (apt-get install postgresql)"
id postgres >/dev/null 2>&1 || die "no 'postgres' system user (apt-get install postgresql)"

as_pg() { runuser -u postgres -- "$@"; }
psql_admin() { as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -d postgres "$@"; }

if ! "$bin/pg_isready" -q -h "$dir" -p "$port"; then
    if [ ! -s "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        chown postgres:postgres "$dir"
        chmod 700 "$dir"
        as_pg "$bin/initdb" -D "$dir" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            --encoding=UTF8 --no-instructions >"$dir.initdb.log" 2>&1 \
            || die "initdb failed, see $dir.initdb.log"
    fi
    # Each test opens its own pool and nextest runs tests in parallel: allow plenty of backends.
    as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300" start >/dev/null \
        || die "pg_ctl start failed, see $dir/server.log"
fi

# TLS and the TLS-only role are (re)applied on every run, so a cluster started by an older
# version of this script gets them too.
if [ ! -s "$dir/server.key" ]; then
    openssl req -new -x509 -days 3650 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$dir/server.key" -out "$dir/server.crt" >/dev/null 2>&1 \
        || die "openssl could not make a test certificate"
    chown postgres:postgres "$dir/server.key" "$dir/server.crt"
    chmod 600 "$dir/server.key"
fi
if ! grep -q '^hostnossl all atrium_tls' "$dir/pg_hba.conf"; then
    # First match wins in pg_hba.conf: these go on top.
    printf '%s\n' 'hostnossl all atrium_tls 0.0.0.0/0 reject' \
        'hostssl all atrium_tls 127.0.0.1/32 scram-sha-256' | cat - "$dir/pg_hba.conf" > "$dir/pg_hba.conf.new"
    chown postgres:postgres "$dir/pg_hba.conf.new"
    mv "$dir/pg_hba.conf.new" "$dir/pg_hba.conf"
fi

# Roles and database (re)created if missing, so a half-finished earlier run heals.
psql_admin <<SQL
ALTER SYSTEM SET ssl = on;
ALTER SYSTEM SET ssl_cert_file = '$dir/server.crt';
ALTER SYSTEM SET ssl_key_file = '$dir/server.key';
SELECT pg_reload_conf() \gset
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', 'atrium_tls', '${password}')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'atrium_tls') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', '${user}', '${password}')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${user}') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '${database}', '${user}')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '${database}') \gexec
GRANT CREATE ON DATABASE ${database} TO atrium_tls;
SQL

echo "$url"
