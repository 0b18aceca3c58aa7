DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM idempotency_keys_archive GROUP BY operator, key HAVING count(*) > 1)
    THEN
        RAISE EXCEPTION 'the archive holds an idempotency key reused after archiving'
            USING HINT = 'this rollback cannot keep both; restore a backup taken before 0017';
    END IF;
END
$$;
DROP INDEX idempotency_keys_archive_key;
ALTER TABLE idempotency_keys_archive ADD PRIMARY KEY (operator, key);
