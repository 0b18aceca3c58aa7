-- A claim reads the work list in `since` order and stops at its limit (docs/DATABASE.md,
-- "Concurrency and throughput"). Planned as a plain statement, a backlog looked small to the
-- planner (its statistics lag a list that fills in seconds), so it read every listed payment,
-- sorted them and kept the first few: 31-34 ms per claim of 500 behind 20,000, growing with the
-- backlog. Without sorts and bitmap scans the only plan left walks payment_work_claim_idx in
-- order and stops at `wanted`: 1.7-2.3 ms, whatever the backlog.
CREATE FUNCTION payment_work_claim(listed text, wanted integer, excluded uuid[])
RETURNS SETOF uuid
LANGUAGE sql
SET enable_sort = off
SET enable_bitmapscan = off
AS $$
    -- The status is checked on the payment too: a row another worker changed and committed
    -- since this statement's snapshot is re-read when locked, and must still qualify.
    SELECT p.id FROM payment_work w JOIN payments p ON p.id = w.payment_id
    WHERE w.status = listed AND p.status = listed
      AND NOT (w.payment_id = ANY(excluded))
    ORDER BY w.since
    LIMIT wanted
    FOR UPDATE OF p SKIP LOCKED
$$;
