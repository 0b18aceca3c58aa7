ALTER TABLE payments RESET (fillfactor);
CREATE INDEX payments_work_idx ON payments (status, updated_at)
    WHERE status IN ('APPROVED', 'SCREENED', 'HELD', 'POSTED', 'TRANSMITTED');
DROP TRIGGER payments_work_follows ON payments;
DROP FUNCTION payment_work_follow();
DROP TABLE payment_work;
