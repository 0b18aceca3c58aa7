-- The foreign key cannot hold an exception the gateway resolved: refused while one exists.
DO $$
BEGIN
    IF EXISTS (SELECT FROM exceptions WHERE resolved_by = 'system') THEN
        RAISE EXCEPTION 'the gateway has resolved exceptions (resolved_by system), which the '
                        'foreign key of the version before cannot hold';
    END IF;
END
$$;
DROP TRIGGER exceptions_resolver_known ON exceptions;
DROP FUNCTION exceptions_resolver_known();
ALTER TABLE exceptions ADD CONSTRAINT exceptions_resolved_by_fkey
    FOREIGN KEY (resolved_by) REFERENCES operators (username);
