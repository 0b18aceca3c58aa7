DROP INDEX exceptions_orphan_idx;
DROP INDEX exceptions_payment_idx;
DROP INDEX answers_orphan_idx;
