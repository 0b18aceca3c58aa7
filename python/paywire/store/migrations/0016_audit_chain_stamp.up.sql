-- The stamp of the chain's last row, kept on the head beside its id and hash. A writer that waits
-- for the head (FOR UPDATE) reads the head's own columns as they are after the wait; a subquery
-- on audit_logs read the stamp in the statement's snapshot, taken before the wait, missed the row
-- the writer before had just added, and let stamps go back along the chain: a day's rows were then
-- no longer one run of ids, and a day's export no longer checked on its own.
ALTER TABLE audit_chain ADD COLUMN last_at timestamptz;
UPDATE audit_chain SET last_at = (SELECT timestamp FROM audit_logs WHERE id = last_id);

-- The database keeps it too, whatever a writer sets: a gateway of the version before this one,
-- still running during a rolling upgrade, moves last_id and last_hash and knows nothing of
-- last_at, and nothing may set it back or to NULL.
CREATE FUNCTION audit_chain_keep_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.last_at := greatest(OLD.last_at, NEW.last_at,
                            (SELECT timestamp FROM audit_logs WHERE id = NEW.last_id));
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_chain_keep_stamp
    BEFORE UPDATE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_chain_keep_stamp();

DROP TRIGGER audit_chain_forward_only ON audit_chain;
CREATE TRIGGER audit_chain_forward_only
    BEFORE UPDATE ON audit_chain
    FOR EACH ROW WHEN (NEW.last_id < OLD.last_id OR NEW.anchor_id < OLD.anchor_id
                       OR NEW.last_at < OLD.last_at)
    EXECUTE FUNCTION refuse_change('the audit chain only grows');
