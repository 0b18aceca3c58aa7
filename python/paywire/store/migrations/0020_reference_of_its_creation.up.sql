-- A payment's reference carries the UTC day of its creation (`PW-YYYYMMDD-…`), and reconciliation
-- files a payment under the day of its created_at (docs/RECONCILIATION.md): the two must agree.
-- The reference took the server's clock at the insert and created_at the gateway's, taken before
-- it, so a payment entered a moment before midnight, or with the two clocks apart, read one day
-- in its reference and sat in another's report. The reference is now made from the creation time
-- the insert stores; without one (a default), from the server's clock as before.
CREATE FUNCTION payment_reference(at timestamptz) RETURNS text
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
    RETURN 'PW-' || to_char(at AT TIME ZONE 'UTC', 'YYYYMMDD') || '-' || code;
END
$$;

CREATE OR REPLACE FUNCTION payment_reference() RETURNS text
LANGUAGE sql VOLATILE AS $$ SELECT payment_reference(clock_timestamp()) $$;
