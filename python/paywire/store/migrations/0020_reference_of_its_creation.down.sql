-- The reference takes the server's clock again (0003); references already made keep their day.
CREATE OR REPLACE FUNCTION payment_reference() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    n bigint := ((nextval('payment_reference_seq')::numeric * 2654435761) % 1099511627776)::bigint;
    code text := '';
BEGIN
    FOR i IN 1..8 LOOP
        code := substr(alphabet, (n % 32)::int + 1, 1) || code;
        n := n / 32;
    END LOOP;
    RETURN 'PW-' || to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYYMMDD') || '-' || code;
END
$$;

DROP FUNCTION payment_reference(timestamptz);
