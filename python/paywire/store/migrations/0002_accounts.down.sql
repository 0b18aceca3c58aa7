-- Refused while there is something to lose: restore a backup taken before the migration.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM accounts) THEN
        RAISE EXCEPTION 'ledger accounts exist: rolling back 0002 would drop them';
    END IF;
END $$;
DROP TABLE accounts;
