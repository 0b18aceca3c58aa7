-- Payments, their status history, the allowed transitions and idempotency keys (SPEC §5).

-- The (from, to) pairs a payment's status may take; paywire.domain.statuses holds the same pairs
-- with the roles that may take each one, and a test keeps the two equal.
CREATE TABLE payment_transitions (
    from_status text NOT NULL,
    to_status   text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO payment_transitions (from_status, to_status) VALUES
    ('INITIATED',   'APPROVED'),
    ('INITIATED',   'REJECTED'),
    ('INITIATED',   'CANCELLED'),
    ('APPROVED',    'SCREENED'),
    ('APPROVED',    'HELD'),
    ('HELD',        'SCREENED'),
    ('HELD',        'REJECTED'),
    ('SCREENED',    'POSTED'),
    ('SCREENED',    'REJECTED'),
    ('POSTED',      'TRANSMITTED'),
    ('TRANSMITTED', 'COMPLETED'),
    ('TRANSMITTED', 'FAILED');

CREATE TRIGGER payment_transitions_fixed
    BEFORE INSERT OR UPDATE OR DELETE ON payment_transitions
    FOR EACH ROW EXECUTE FUNCTION refuse_change('transitions change only by migration');

-- References PW-YYYYMMDD-XXXXXXXX: a sequence number scrambled by an odd multiplier modulo 2^40
-- (a bijection, so never a collision) and written in Crockford base 32.
CREATE SEQUENCE payment_reference_seq AS bigint MINVALUE 1 MAXVALUE 1099511627775 NO CYCLE;

CREATE FUNCTION payment_reference() RETURNS text
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

CREATE TABLE payments (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reference          text NOT NULL UNIQUE DEFAULT payment_reference()
                       CHECK (reference ~ '^PW-[0-9]{8}-[0-9A-HJKMNP-TV-Z]{8}$'),
    status             text NOT NULL DEFAULT 'INITIATED'
                       CONSTRAINT payments_status_known
                       CHECK (status IN ('INITIATED', 'APPROVED', 'SCREENED', 'HELD', 'POSTED',
                                         'TRANSMITTED', 'COMPLETED', 'CANCELLED', 'REJECTED',
                                         'FAILED')),
    amount             numeric NOT NULL CHECK (amount > 0),
    currency           text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    value_date         date NOT NULL,
    debtor_name        text NOT NULL CHECK (char_length(debtor_name) BETWEEN 1 AND 140),
    debtor_account     text NOT NULL,
    creditor_name      text NOT NULL CHECK (char_length(creditor_name) BETWEEN 1 AND 140),
    creditor_account   text NOT NULL CHECK (char_length(creditor_account) BETWEEN 1 AND 34),
    creditor_agent_bic text NOT NULL
                       CHECK (creditor_agent_bic ~ '^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
    end_to_end_id      text CHECK (char_length(end_to_end_id) BETWEEN 1 AND 35),
    remittance_info    text CHECK (char_length(remittance_info) BETWEEN 1 AND 140),
    uetr               uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    -- GrpHdr/MsgId: fixed at creation, so every transmission of the payment carries the same one.
    msg_id             text NOT NULL UNIQUE
                       GENERATED ALWAYS AS ('PWM' || replace(substr(reference, 4), '-', '')) STORED,
    created_by         text NOT NULL REFERENCES operators (username),
    approved_by        text REFERENCES operators (username),
    reason_code        text CHECK (char_length(reason_code) BETWEEN 1 AND 35),
    reason_text        text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    approved_at        timestamptz,
    -- The debtor's account is a ledger account held in the payment's currency.
    CONSTRAINT payments_debtor_account_fkey FOREIGN KEY (debtor_account, currency)
        REFERENCES accounts (account, currency),
    CONSTRAINT payments_four_eyes CHECK (approved_by <> created_by),
    CONSTRAINT payments_approval_recorded CHECK ((approved_by IS NULL) = (approved_at IS NULL)),
    CONSTRAINT payments_approved_before_processing
        CHECK (status IN ('INITIATED', 'CANCELLED', 'REJECTED') OR approved_by IS NOT NULL),
    CONSTRAINT payments_reason_given
        CHECK (status NOT IN ('HELD', 'REJECTED', 'FAILED') OR reason_code IS NOT NULL),
    -- Target of the foreign key that ties a message to its payment's msg_id and uetr.
    CONSTRAINT payments_message_key UNIQUE (id, msg_id, uetr)
);
-- The pipeline claims work by status, oldest first; finished payments stay out of this index.
CREATE INDEX payments_work_idx ON payments (status, updated_at)
    WHERE status IN ('APPROVED', 'SCREENED', 'HELD', 'POSTED', 'TRANSMITTED');
CREATE INDEX payments_created_idx ON payments (created_at DESC, id DESC);

CREATE FUNCTION payments_check_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'INITIATED' THEN
            RAISE EXCEPTION 'a payment starts INITIATED, not %', NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM payment_transitions
                      WHERE from_status = OLD.status AND to_status = NEW.status) THEN
        RAISE EXCEPTION 'payment %: % -> % is not an allowed transition', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER payments_initial_status
    BEFORE INSERT ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_check_transition();
CREATE TRIGGER payments_transition
    BEFORE UPDATE OF status ON payments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION payments_check_transition();
-- What was approved is what is posted and sent.
CREATE TRIGGER payments_terms_fixed
    BEFORE UPDATE ON payments
    FOR EACH ROW WHEN (
        (OLD.id, OLD.reference, OLD.amount, OLD.currency, OLD.value_date, OLD.debtor_name,
         OLD.debtor_account, OLD.creditor_name, OLD.creditor_account, OLD.creditor_agent_bic,
         OLD.end_to_end_id, OLD.remittance_info, OLD.uetr, OLD.created_by, OLD.created_at)
        IS DISTINCT FROM
        (NEW.id, NEW.reference, NEW.amount, NEW.currency, NEW.value_date, NEW.debtor_name,
         NEW.debtor_account, NEW.creditor_name, NEW.creditor_account, NEW.creditor_agent_bic,
         NEW.end_to_end_id, NEW.remittance_info, NEW.uetr, NEW.created_by, NEW.created_at)
        OR (OLD.approved_by IS NOT NULL AND OLD.approved_by IS DISTINCT FROM NEW.approved_by))
    EXECUTE FUNCTION refuse_change('the terms and the approver of a payment are fixed');

-- Status history: one row per status a payment entered, written with the change itself.
CREATE TABLE payment_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id  uuid NOT NULL REFERENCES payments (id),
    status      text NOT NULL,
    at          timestamptz NOT NULL,
    by          text NOT NULL,
    reason_code text,
    reason_text text
);
CREATE INDEX payment_events_payment_idx ON payment_events (payment_id, id);
CREATE TRIGGER payment_events_append_only
    BEFORE UPDATE OR DELETE ON payment_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Idempotency-Key of a creation, per operator: the same key and body replay the payment.
CREATE TABLE idempotency_keys (
    operator     text NOT NULL REFERENCES operators (username),
    key          text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    payment_id   uuid NOT NULL REFERENCES payments (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operator, key)
);
