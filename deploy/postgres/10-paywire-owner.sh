#!/bin/sh
# Run once by the postgres image, on an empty data directory (/docker-entrypoint-initdb.d):
# paywire gets a role of its own that owns its database and holds no superuser, role or
# database rights. The superuser of postgres.env stays for administration; the gateway must not
# be one. Owning its tables, this role can still disable their append-only triggers: against
# whoever holds its password the audit chain is the evidence (docs/DATABASE.md, docs/SECURITY.md).
# PAYWIRE_DB_USER and PAYWIRE_DB_NAME default to paywire.
set -eu
: "${PAYWIRE_DB_PASSWORD:?set PAYWIRE_DB_PASSWORD in deploy/postgres.env}"
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v role="${PAYWIRE_DB_USER:-paywire}" -v db="${PAYWIRE_DB_NAME:-paywire}" \
     -v password="$PAYWIRE_DB_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";
SQL
