#!/bin/sh
# Run once by the postgres image, on an empty data directory (/docker-entrypoint-initdb.d). Two
# logins, neither a superuser nor able to make roles or databases (docs/SECURITY.md, "Database
# roles"):
# - PAYWIRE_DB_USER (default paywire) owns paywire's database and schema: `paywire migrate` runs
#   as it, and nothing else should. An owner may alter its tables and turn their triggers off.
# - PAYWIRE_GATEWAY_DB_USER (default paywire_app) is the gateway's login, a member of
#   paywire_gateway, which migration 0018 grants the rows the gateway works on and nothing of
#   the schema. The group role is made here because the owner above may not make roles.
# The superuser of postgres.env stays for administration.
set -eu
: "${PAYWIRE_DB_PASSWORD:?set PAYWIRE_DB_PASSWORD in deploy/postgres.env}"
: "${PAYWIRE_GATEWAY_DB_PASSWORD:?set PAYWIRE_GATEWAY_DB_PASSWORD in deploy/postgres.env}"
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v role="${PAYWIRE_DB_USER:-paywire}" -v db="${PAYWIRE_DB_NAME:-paywire}" \
     -v password="$PAYWIRE_DB_PASSWORD" \
     -v gateway="${PAYWIRE_GATEWAY_DB_USER:-paywire_app}" \
     -v gateway_password="$PAYWIRE_GATEWAY_DB_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'paywire_gateway') AS missing \gset
\if :missing
CREATE ROLE paywire_gateway NOLOGIN;
\endif
CREATE ROLE :"gateway" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'gateway_password' IN ROLE paywire_gateway;
GRANT CONNECT ON DATABASE :"db" TO :"gateway";
SQL
