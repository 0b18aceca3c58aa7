DROP TRIGGER payments_transition ON payments;
DROP FUNCTION payments_check_transitions();
CREATE TRIGGER payments_transition
    BEFORE UPDATE OF status ON payments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION payments_check_transition();

ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_request_hash_check,
    ADD CONSTRAINT idempotency_keys_request_hash_check CHECK (request_hash ~ '^[0-9a-f]{64}$');
ALTER TABLE audit_logs
    DROP CONSTRAINT audit_logs_prev_hash_check,
    DROP CONSTRAINT audit_logs_hash_check,
    ADD CONSTRAINT audit_logs_prev_hash_check CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    ADD CONSTRAINT audit_logs_hash_check CHECK (hash ~ '^[0-9a-f]{64}$');
