#!/usr/bin/env bash
# Creates the two databases of the compose stack, each owned by a role of its own:
#
#   AIRFLOW_DB_NAME    owned by AIRFLOW_DB_USER    (password AIRFLOW_DB_PASSWORD)    Airflow metadata
#   WAREHOUSE_DB_NAME  owned by WAREHOUSE_DB_USER  (password WAREHOUSE_DB_PASSWORD)  the warehouse
#
# CONNECT is revoked from PUBLIC on both, so neither role can open the other's database.
#
# The postgres image runs it from /docker-entrypoint-initdb.d/ on the first start (an empty data
# volume) as POSTGRES_USER, over the Unix socket; psql takes PGHOST/PGPORT from the environment
# otherwise, so it can also be run against any server by a superuser. Idempotent: an existing role
# gets its password reset, an existing database is kept. The body runs in a subshell so that the
# script behaves the same whether the entrypoint executes it or sources it.
(
    set -euo pipefail

    die() {
        printf 'postgres-init: error: %s\n' "$*" >&2
        exit 1
    }

    for name in AIRFLOW_DB_NAME AIRFLOW_DB_USER AIRFLOW_DB_PASSWORD \
        WAREHOUSE_DB_NAME WAREHOUSE_DB_USER WAREHOUSE_DB_PASSWORD; do
        [[ -n ${!name:-} ]] || die "$name is empty or not set (docker-compose.yml passes it from .env)"
    done
    superuser=${POSTGRES_USER:-postgres}
    [[ $AIRFLOW_DB_NAME != "$WAREHOUSE_DB_NAME" ]] ||
        die "AIRFLOW_DB_NAME and RR_PG_DATABASE are both '$AIRFLOW_DB_NAME':" \
            "the Airflow metadata and the warehouse need separate databases"
    [[ $AIRFLOW_DB_USER != "$WAREHOUSE_DB_USER" ]] ||
        die "AIRFLOW_DB_USER and WAREHOUSE_DB_USER are both '$AIRFLOW_DB_USER':" \
            "each database needs a role of its own"
    for name in AIRFLOW_DB_NAME WAREHOUSE_DB_NAME; do
        case ${!name} in
            postgres | template0 | template1) die "$name must not be '${!name}' (a system database)" ;;
        esac
    done
    for name in AIRFLOW_DB_USER WAREHOUSE_DB_USER; do
        [[ ${!name} != "$superuser" ]] || die "$name must not be the superuser '$superuser'"
    done

    psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 \
        --username "$superuser" --dbname "${POSTGRES_DB:-postgres}" \
        -v airflow_db="$AIRFLOW_DB_NAME" -v airflow_user="$AIRFLOW_DB_USER" \
        -v airflow_password="$AIRFLOW_DB_PASSWORD" \
        -v warehouse_db="$WAREHOUSE_DB_NAME" -v warehouse_user="$WAREHOUSE_DB_USER" \
        -v warehouse_password="$WAREHOUSE_DB_PASSWORD" <<'SQL'
select format('create role %I', :'airflow_user')
 where not exists (select from pg_roles where rolname = :'airflow_user') \gexec
alter role :"airflow_user" with login nosuperuser nocreatedb nocreaterole password :'airflow_password';
select format('create database %I with owner = %I', :'airflow_db', :'airflow_user')
 where not exists (select from pg_database where datname = :'airflow_db') \gexec
revoke all on database :"airflow_db" from public;

select format('create role %I', :'warehouse_user')
 where not exists (select from pg_roles where rolname = :'warehouse_user') \gexec
alter role :"warehouse_user" with login nosuperuser nocreatedb nocreaterole password :'warehouse_password';
select format('create database %I with owner = %I', :'warehouse_db', :'warehouse_user')
 where not exists (select from pg_database where datname = :'warehouse_db') \gexec
revoke all on database :"warehouse_db" from public;
SQL
    printf 'postgres-init: database %s (owner %s) and database %s (owner %s) are ready\n' \
        "$AIRFLOW_DB_NAME" "$AIRFLOW_DB_USER" "$WAREHOUSE_DB_NAME" "$WAREHOUSE_DB_USER"
)
