-- The double-entry ledger of the built-in adapter: postings and their entries (SPEC §5).

-- One POSTING per payment and at most one REVERSAL: a payment can never be posted twice.
CREATE TABLE postings (
    id         uuid PRIMARY KEY,
    payment_id uuid NOT NULL REFERENCES payments (id),
    kind       text NOT NULL CHECK (kind IN ('POSTING', 'REVERSAL')),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT postings_one_per_kind UNIQUE (payment_id, kind)
);

-- Signed amounts: a debit is negative, a credit positive; each posting sums to zero.
CREATE TABLE ledger_entries (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    posting_id uuid NOT NULL REFERENCES postings (id),
    account_id uuid NOT NULL,
    amount     numeric NOT NULL CHECK (amount <> 0),
    currency   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- An entry is in its account's currency.
    CONSTRAINT ledger_entries_account_fkey FOREIGN KEY (account_id, currency)
        REFERENCES accounts (id, currency)
);
CREATE INDEX ledger_entries_posting_idx ON ledger_entries (posting_id);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id, id);

-- Checked at commit, when all entries of a posting are in: at least two, one currency, sum zero.
CREATE FUNCTION ledger_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    total      numeric;
    entries    bigint;
    currencies bigint;
BEGIN
    SELECT sum(amount), count(*), count(DISTINCT currency) INTO total, entries, currencies
    FROM ledger_entries WHERE posting_id = NEW.posting_id;
    IF total <> 0 OR entries < 2 OR currencies <> 1 THEN
        RAISE EXCEPTION 'posting % is not balanced: % entries summing to % in % currencies',
            NEW.posting_id, entries, total, currencies
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

CREATE TRIGGER postings_append_only
    BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
