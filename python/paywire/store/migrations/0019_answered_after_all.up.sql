-- An ACK_MISSING exception whose answer arrives after all is resolved by the gateway itself,
-- under the name the histories give it: `system`, which no operator may take (0001). The foreign
-- key on resolved_by admitted operators only; this trigger admits operators and `system`, checked
-- when an exception is opened or resolved. The key did no more than that: operators are never
-- renamed (0001), and the gateway's role may not delete them (0018).
ALTER TABLE exceptions DROP CONSTRAINT exceptions_resolved_by_fkey;

CREATE FUNCTION exceptions_resolver_known() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.resolved_by IS NOT NULL AND NEW.resolved_by <> 'system'
       AND NOT EXISTS (SELECT FROM operators WHERE username = NEW.resolved_by) THEN
        RAISE EXCEPTION 'an exception is resolved by an operator or by system, not by %',
                        NEW.resolved_by
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER exceptions_resolver_known
    BEFORE INSERT OR UPDATE OF resolved_by ON exceptions
    FOR EACH ROW EXECUTE FUNCTION exceptions_resolver_known();
