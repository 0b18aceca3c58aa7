-- TRUNCATE skips row triggers, so the append-only rules of the live tables (history, ledger,
-- answers; docs/DATABASE.md, "Rules the database enforces") did not hold against it: one
-- `TRUNCATE ledger_entries` left every balance without its entries. Each table that records what
-- happened now refuses it, as audit_logs and the archive tables already did. With CASCADE,
-- PostgreSQL fires the trigger of every table it would empty, so a truncation of a table they
-- reference (operators) is refused too.
DO $$
DECLARE
    kept text[] := ARRAY['payments', 'payment_events', 'idempotency_keys', 'payment_work',
                         'accounts', 'postings', 'ledger_entries', 'messages', 'answers',
                         'exceptions', 'audit_chain'];
    t text;
BEGIN
    FOREACH t IN ARRAY kept LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                       'EXECUTE FUNCTION refuse_change(%L)',
                       t || '_no_truncate', t, 'its rows are records');
    END LOOP;
END
$$;
