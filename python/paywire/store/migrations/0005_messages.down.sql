-- Refused while there is something to lose: restore a backup taken before the migration.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM messages) OR EXISTS (SELECT 1 FROM answers)
       OR EXISTS (SELECT 1 FROM exceptions) THEN
        RAISE EXCEPTION 'messages, answers or exceptions exist: rolling back 0005 would drop them';
    END IF;
END $$;
DROP TABLE exceptions;
DROP TABLE answers;
DROP TABLE messages;
