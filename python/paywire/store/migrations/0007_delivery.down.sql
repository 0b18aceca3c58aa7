DROP INDEX messages_due_idx;
ALTER TABLE messages DROP COLUMN sent_by;
ALTER TABLE messages DROP COLUMN attempt_limit;
ALTER TABLE messages DROP COLUMN next_attempt_at;
