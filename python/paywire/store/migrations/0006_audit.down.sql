-- Refused while there is something to lose: restore a backup taken before the migration.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM audit_logs) THEN
        RAISE EXCEPTION 'the audit log holds rows: rolling back 0006 would drop them';
    END IF;
END $$;
DROP FUNCTION audit_purge(timestamptz);
DROP TABLE audit_chain;
DROP TABLE audit_logs;
DROP FUNCTION audit_logs_guard();
