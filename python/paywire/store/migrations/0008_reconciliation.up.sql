-- Indexes the reconciliation reads through (SPEC §7): orphan answers, exceptions by subject.

-- Answers naming no known message, by the time they came: a day's orphans, or all of them.
CREATE INDEX answers_orphan_idx ON answers (received_at) WHERE payment_id IS NULL;
-- Each unmatched item is looked up among the exceptions of its subject, open or resolved.
CREATE INDEX exceptions_payment_idx ON exceptions (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX exceptions_orphan_idx ON exceptions (msg_id) WHERE payment_id IS NULL;
