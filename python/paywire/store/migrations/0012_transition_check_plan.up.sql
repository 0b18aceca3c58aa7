-- The transition check (0011) joins a statement's old and new rows. The planner has no
-- statistics on transition tables and joined them in a nested loop: every row against every
-- other, so a batch of 500 status changes cost 0.04 ms a row more than one of 50. A hash join
-- is linear; measured in docs/DATABASE.md, "Concurrency and throughput".
ALTER FUNCTION payments_check_transitions() SET enable_nestloop = off;
