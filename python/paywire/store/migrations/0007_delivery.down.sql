-- Refused while there is something to lose: restore a backup taken before the migration.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM messages WHERE answered_at IS NULL) THEN
        RAISE EXCEPTION 'unanswered messages are scheduled: rolling back 0007 would drop their schedule'
            USING HINT = 'settle them first: stop approving payments, keep a gateway running until'
                ' every message is answered, and resolve each open ACK_MISSING exception with the'
                ' action mark_settled (docs/API.md, Exceptions); then roll back again; or restore'
                ' a backup taken before 0007';
    END IF;
END $$;
DROP INDEX messages_due_idx;
ALTER TABLE messages DROP COLUMN sent_by;
ALTER TABLE messages DROP COLUMN attempt_limit;
ALTER TABLE messages DROP COLUMN next_attempt_at;
