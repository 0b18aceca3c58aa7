-- The role the gateway runs as (docs/SECURITY.md, "Database roles"). It reads and writes rows and
-- owns nothing, so it cannot alter a table, turn a trigger off, truncate, or replace a function:
-- the schema's owner, the role migrations run as, can do all of that. The gateway logs in as a
-- member of this role; on the embedded server its sessions take it (store/database.py).
--
-- Roles belong to the whole server: the database administrator may have made it already, and a
-- second paywire database on the server finds it made.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'paywire_gateway') THEN
        CREATE ROLE paywire_gateway NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object THEN
        NULL;  -- made meanwhile by the migration of another database on the server
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'the role paywire_gateway does not exist, and % may not create roles',
                        current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'have the database administrator run CREATE ROLE paywire_gateway NOLOGIN, '
                         'then run paywire migrate again';
END
$$;

-- Least privilege, table by table: what the gateway never does is not granted, so it is refused
-- before any trigger runs. The records that are only ever added to get INSERT and no UPDATE or
-- DELETE; the archive and the audit purge move and remove rows through their own functions,
-- which run as the owner (SECURITY DEFINER) and keep their seven-year floor. Every table and
-- view may be read: the reports read the archive through the *_all views.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO paywire_gateway;
GRANT INSERT, UPDATE ON operators, accounts, payments, messages, exceptions TO paywire_gateway;
GRANT INSERT, UPDATE, DELETE ON sessions, login_throttle, payment_work TO paywire_gateway;
GRANT INSERT ON payment_events, idempotency_keys, postings, ledger_entries, answers, audit_logs
    TO paywire_gateway;
GRANT UPDATE ON audit_chain TO paywire_gateway;
-- The day's retention run (no one else may call them: their EXECUTE is revoked from PUBLIC).
GRANT EXECUTE ON FUNCTION audit_purge(timestamptz), archive_payments(timestamptz, integer)
    TO paywire_gateway;
-- Payment references are drawn from payment_reference_seq.
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO paywire_gateway;
