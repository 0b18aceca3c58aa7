-- Refused while there is something to lose: restore a backup taken before the migration.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM postings) THEN
        RAISE EXCEPTION 'postings exist: rolling back 0004 would drop them';
    END IF;
END $$;
DROP TABLE ledger_entries;
DROP TABLE postings;
DROP FUNCTION ledger_check_balanced();
