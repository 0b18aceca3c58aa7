DROP TABLE idempotency_keys;
DROP TABLE payment_events;
DROP TABLE payments;
DROP FUNCTION payments_check_transition();
DROP FUNCTION payment_reference();
DROP SEQUENCE payment_reference_seq;
DROP TABLE payment_transitions;
