-- The pipeline's work list, kept apart from the payments (docs/DATABASE.md, "Work list").
--
-- A status change used to rewrite every index on payments, because the claim index held the
-- status: seven index entries per change, five changes per payment. With the list in a narrow
-- table of its own, no index on payments covers a column a status change writes, so the change
-- is a heap-only (HOT) update; fillfactor leaves each page room for the new row versions.
CREATE TABLE payment_work (
    payment_id uuid PRIMARY KEY REFERENCES payments (id),
    status     text NOT NULL
               CHECK (status IN ('APPROVED', 'SCREENED', 'HELD', 'POSTED', 'TRANSMITTED')),
    -- When the payment entered this status: claims take the oldest first.
    since      timestamptz NOT NULL
);
CREATE INDEX payment_work_claim_idx ON payment_work (status, since);

INSERT INTO payment_work (payment_id, status, since)
SELECT id, status, updated_at FROM payments
WHERE status IN ('APPROVED', 'SCREENED', 'HELD', 'POSTED', 'TRANSMITTED');

-- Follows every status change, whoever makes it, once per statement: a payment is listed while
-- it is in a status the pipeline works on, with that status.
CREATE FUNCTION payment_work_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM payment_work w
    USING new_rows n
    WHERE w.payment_id = n.id
      AND n.status NOT IN ('APPROVED', 'SCREENED', 'HELD', 'POSTED', 'TRANSMITTED');
    INSERT INTO payment_work (payment_id, status, since)
    SELECT n.id, n.status, n.updated_at
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status
      AND n.status IN ('APPROVED', 'SCREENED', 'HELD', 'POSTED', 'TRANSMITTED')
    ON CONFLICT (payment_id) DO UPDATE SET status = excluded.status, since = excluded.since;
    RETURN NULL;
END
$$;
CREATE TRIGGER payments_work_follows
    AFTER UPDATE ON payments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION payment_work_follow();

DROP INDEX payments_work_idx;
ALTER TABLE payments SET (fillfactor = 70);
