-- Refused while there is something to lose: restore a backup taken before the migration.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM operators) THEN
        RAISE EXCEPTION 'operators exist: rolling back 0001 would drop them';
    END IF;
END $$;
DROP TABLE login_throttle;
DROP TABLE sessions;
DROP TABLE operators;
DROP FUNCTION refuse_change();
