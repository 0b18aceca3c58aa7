DROP TRIGGER audit_chain_forward_only ON audit_chain;
CREATE TRIGGER audit_chain_forward_only
    BEFORE UPDATE ON audit_chain
    FOR EACH ROW WHEN (NEW.last_id < OLD.last_id OR NEW.anchor_id < OLD.anchor_id)
    EXECUTE FUNCTION refuse_change('the audit chain only grows');
DROP TRIGGER audit_chain_keep_stamp ON audit_chain;
DROP FUNCTION audit_chain_keep_stamp();
ALTER TABLE audit_chain DROP COLUMN last_at;
