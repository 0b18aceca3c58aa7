-- An idempotency key is its operator's to use again once its payment is archived (the live
-- table's primary key no longer holds it), so the archive may hold one key for several payments.
-- The archive's copy of the live primary key made archiving the second such payment fail, and
-- with it every retention run after (they take the oldest payments first).
ALTER TABLE idempotency_keys_archive DROP CONSTRAINT idempotency_keys_archive_pkey;
CREATE INDEX idempotency_keys_archive_key ON idempotency_keys_archive (operator, key);
