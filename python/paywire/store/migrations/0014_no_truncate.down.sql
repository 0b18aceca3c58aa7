DO $$
DECLARE
    kept text[] := ARRAY['payments', 'payment_events', 'idempotency_keys', 'payment_work',
                         'accounts', 'postings', 'ledger_entries', 'messages', 'answers',
                         'exceptions', 'audit_chain'];
    t text;
BEGIN
    FOREACH t IN ARRAY kept LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_no_truncate', t);
    END LOOP;
END
$$;
