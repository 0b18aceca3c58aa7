-- The payment archive (retention, docs/RECONCILIATION.md): finished payments older than seven
-- years move with everything that refers to them into *_archive tables; *_all views read both.

-- Rows of a payment's family are deleted only by archive_payments, which marks its transaction,
-- and even then only rows older than seven years. The argument names the row's timestamp column.
CREATE FUNCTION archive_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('paywire.archive', true) = 'on'
       AND (to_jsonb(OLD) ->> TG_ARGV[0])::timestamptz < now() - interval '7 years' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'DELETE on % refused: the table is append-only; its rows leave only for '
                    'the archive, after seven years', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation',
              HINT = 'finished payments older than seven years are moved with archive_payments()';
END
$$;

-- The append-only triggers of 0003-0005 refused DELETE outright; now the guard decides.
DROP TRIGGER payment_events_append_only ON payment_events;
CREATE TRIGGER payment_events_append_only
    BEFORE UPDATE ON payment_events FOR EACH ROW EXECUTE FUNCTION refuse_change();
DROP TRIGGER postings_append_only ON postings;
CREATE TRIGGER postings_append_only
    BEFORE UPDATE ON postings FOR EACH ROW EXECUTE FUNCTION refuse_change();
DROP TRIGGER ledger_entries_append_only ON ledger_entries;
CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE ON ledger_entries FOR EACH ROW EXECUTE FUNCTION refuse_change();
DROP TRIGGER answers_append_only ON answers;
CREATE TRIGGER answers_append_only
    BEFORE UPDATE ON answers FOR EACH ROW EXECUTE FUNCTION refuse_change();
DROP TRIGGER exceptions_kept ON exceptions;

-- Each table of the family: its DELETE guard, and its archive, column for column the same (a
-- migration adding a column to one adds it to the other) and never changed once written.
DO $$
DECLARE
    family constant text[][] := ARRAY[
        ['payments', 'created_at'], ['payment_events', 'at'], ['idempotency_keys', 'created_at'],
        ['postings', 'created_at'], ['ledger_entries', 'created_at'], ['messages', 'created_at'],
        ['answers', 'received_at'], ['exceptions', 'opened_at']];
    t text[];
BEGIN
    FOREACH t SLICE 1 IN ARRAY family LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE DELETE ON %I FOR EACH ROW '
                       'EXECUTE FUNCTION archive_guard(%L)', t[1] || '_archived_only', t[1], t[2]);
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING CONSTRAINTS INCLUDING INDEXES)',
                       t[1] || '_archive', t[1]);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW '
                       'EXECUTE FUNCTION refuse_change(%L)',
                       t[1] || '_archive_kept', t[1] || '_archive', 'archived rows are kept');
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                       'EXECUTE FUNCTION refuse_change()',
                       t[1] || '_archive_no_truncate', t[1] || '_archive');
    END LOOP;
END
$$;

-- What reports read: live and archived rows alike, so a day's report is the same after archiving.
CREATE VIEW payments_all AS SELECT * FROM payments UNION ALL SELECT * FROM payments_archive;
CREATE VIEW postings_all AS SELECT * FROM postings UNION ALL SELECT * FROM postings_archive;
CREATE VIEW ledger_entries_all AS
    SELECT * FROM ledger_entries UNION ALL SELECT * FROM ledger_entries_archive;
CREATE VIEW messages_all AS SELECT * FROM messages UNION ALL SELECT * FROM messages_archive;
CREATE VIEW answers_all AS SELECT * FROM answers UNION ALL SELECT * FROM answers_archive;
CREATE VIEW exceptions_all AS SELECT * FROM exceptions UNION ALL SELECT * FROM exceptions_archive;

-- Moves up to max_payments finished payments created before archive_before, whose whole family is
-- older than that and which have no open exception, to the archive in the caller's transaction;
-- returns how many moved. Orphan answers (no payment) stay where they are.
CREATE FUNCTION archive_payments(archive_before timestamptz, max_payments integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    ids uuid[];
BEGIN
    IF archive_before > now() - interval '7 years' THEN
        RAISE EXCEPTION 'payments are archived only once seven years old'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(array_agg(id), '{}') INTO ids FROM (
        SELECT p.id FROM payments p
        WHERE p.created_at < archive_before AND p.updated_at < archive_before
          AND p.status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED')
          AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.payment_id = p.id
                          AND (e.state = 'OPEN' OR e.opened_at >= archive_before))
          AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.payment_id = p.id
                          AND a.received_at >= archive_before)
        ORDER BY p.created_at
        LIMIT max_payments
        FOR UPDATE SKIP LOCKED
    ) AS due;
    IF cardinality(ids) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM set_config('paywire.archive', 'on', true);
    WITH moved AS (DELETE FROM ledger_entries e USING postings g
                   WHERE e.posting_id = g.id AND g.payment_id = ANY (ids) RETURNING e.*)
    INSERT INTO ledger_entries_archive SELECT * FROM moved;
    WITH moved AS (DELETE FROM postings WHERE payment_id = ANY (ids) RETURNING *)
    INSERT INTO postings_archive SELECT * FROM moved;
    WITH moved AS (DELETE FROM payment_events WHERE payment_id = ANY (ids) RETURNING *)
    INSERT INTO payment_events_archive SELECT * FROM moved;
    WITH moved AS (DELETE FROM idempotency_keys WHERE payment_id = ANY (ids) RETURNING *)
    INSERT INTO idempotency_keys_archive SELECT * FROM moved;
    WITH moved AS (DELETE FROM messages WHERE payment_id = ANY (ids) RETURNING *)
    INSERT INTO messages_archive SELECT * FROM moved;
    WITH moved AS (DELETE FROM answers WHERE payment_id = ANY (ids) RETURNING *)
    INSERT INTO answers_archive SELECT * FROM moved;
    WITH moved AS (DELETE FROM exceptions WHERE payment_id = ANY (ids) RETURNING *)
    INSERT INTO exceptions_archive SELECT * FROM moved;
    WITH moved AS (DELETE FROM payments WHERE id = ANY (ids) RETURNING *)
    INSERT INTO payments_archive SELECT * FROM moved;
    PERFORM set_config('paywire.archive', 'off', true);
    RETURN cardinality(ids);
END
$$;
REVOKE ALL ON FUNCTION archive_payments(timestamptz, integer) FROM PUBLIC;
