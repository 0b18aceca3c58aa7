-- Refused while there is something to lose: restore a backup taken before the migration.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM payments) THEN
        RAISE EXCEPTION 'payments exist: rolling back 0003 would drop them';
    END IF;
END $$;
DROP TABLE idempotency_keys;
DROP TABLE payment_events;
DROP TABLE payments;
DROP FUNCTION payments_check_transition();
DROP FUNCTION payment_reference();
DROP SEQUENCE payment_reference_seq;
DROP TABLE payment_transitions;
