DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM payments_archive) THEN
        RAISE EXCEPTION 'payments are archived: rolling back would lose them';
    END IF;
END
$$;
DROP FUNCTION archive_payments(timestamptz, integer);
DROP VIEW exceptions_all, answers_all, messages_all, ledger_entries_all, postings_all, payments_all;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['payments', 'payment_events', 'idempotency_keys', 'postings',
                             'ledger_entries', 'messages', 'answers', 'exceptions'] LOOP
        EXECUTE format('DROP TABLE %I', t || '_archive');
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_archived_only', t);
    END LOOP;
END
$$;
DROP FUNCTION archive_guard();
CREATE TRIGGER exceptions_kept
    BEFORE DELETE ON exceptions FOR EACH ROW EXECUTE FUNCTION refuse_change();
DROP TRIGGER answers_append_only ON answers;
CREATE TRIGGER answers_append_only
    BEFORE UPDATE OR DELETE ON answers FOR EACH ROW EXECUTE FUNCTION refuse_change();
DROP TRIGGER ledger_entries_append_only ON ledger_entries;
CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries FOR EACH ROW EXECUTE FUNCTION refuse_change();
DROP TRIGGER postings_append_only ON postings;
CREATE TRIGGER postings_append_only
    BEFORE UPDATE OR DELETE ON postings FOR EACH ROW EXECUTE FUNCTION refuse_change();
DROP TRIGGER payment_events_append_only ON payment_events;
CREATE TRIGGER payment_events_append_only
    BEFORE UPDATE OR DELETE ON payment_events FOR EACH ROW EXECUTE FUNCTION refuse_change();
