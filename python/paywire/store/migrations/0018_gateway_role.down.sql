-- The role stays: it belongs to the whole server, and other databases on it may use it.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM paywire_gateway;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM paywire_gateway;
REVOKE ALL ON FUNCTION audit_purge(timestamptz), archive_payments(timestamptz, integer)
    FROM paywire_gateway;
