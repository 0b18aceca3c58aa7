DROP FUNCTION audit_purge(timestamptz);
DROP TABLE audit_chain;
DROP TABLE audit_logs;
DROP FUNCTION audit_logs_guard();
