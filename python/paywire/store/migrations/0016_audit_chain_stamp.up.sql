-- The stamp of the chain's last row, kept on the head beside its id and hash. A writer that waits
-- for the head (FOR UPDATE) reads the head's own columns as they are after the wait; a subquery
-- on audit_logs read the stamp in the statement's snapshot, taken before the wait, missed the row
-- the writer before had just added, and let stamps go back along the chain: a day's rows were then
-- no longer one run of ids, and a day's export no longer checked on its own.
ALTER TABLE audit_chain ADD COLUMN last_at timestamptz;
UPDATE audit_chain SET last_at = (SELECT timestamp FROM audit_logs WHERE id = last_id);

DROP TRIGGER audit_chain_forward_only ON audit_chain;
CREATE TRIGGER audit_chain_forward_only
    BEFORE UPDATE ON audit_chain
    FOR EACH ROW WHEN (NEW.last_id < OLD.last_id OR NEW.anchor_id < OLD.anchor_id
                       OR NEW.last_at < OLD.last_at)
    EXECUTE FUNCTION refuse_change('the audit chain only grows');
