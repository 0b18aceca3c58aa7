-- Messages as sent, the receiver's answers and the exception queue (SPEC §4, §7).

-- One message per payment, stored before its first transmission; every resend sends `payload`.
CREATE TABLE messages (
    payment_id    uuid PRIMARY KEY,
    msg_id        text NOT NULL UNIQUE,
    uetr          uuid NOT NULL,
    payload       bytea NOT NULL,
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    first_sent_at timestamptz,
    last_sent_at  timestamptz,
    answered_at   timestamptz,
    CONSTRAINT messages_payment_fkey FOREIGN KEY (payment_id, msg_id, uetr)
        REFERENCES payments (id, msg_id, uetr),
    CONSTRAINT messages_sent_recorded CHECK ((attempts = 0) = (first_sent_at IS NULL)),
    CONSTRAINT messages_sent_order CHECK (last_sent_at >= first_sent_at)
);
CREATE INDEX messages_unanswered_idx ON messages (last_sent_at) WHERE answered_at IS NULL;
CREATE TRIGGER messages_payload_fixed
    BEFORE UPDATE ON messages
    FOR EACH ROW WHEN ((OLD.payment_id, OLD.msg_id, OLD.uetr, OLD.payload)
                       IS DISTINCT FROM (NEW.payment_id, NEW.msg_id, NEW.uetr, NEW.payload))
    EXECUTE FUNCTION refuse_change('a stored message is resent byte for byte');

-- Every answer received, kept as received; payment_id is null for an orphan (unknown msg_id).
CREATE TABLE answers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msg_id      text NOT NULL,
    payment_id  uuid REFERENCES payments (id),
    kind        text NOT NULL CHECK (kind IN ('ACK', 'NACK')),
    status      text NOT NULL,
    reason_code text,
    reason_text text,
    uetr        text,  -- OrgnlUETR as received, compared with the message's by the settler
    received_at timestamptz NOT NULL,
    payload     bytea NOT NULL
);
CREATE INDEX answers_payment_idx ON answers (payment_id, id);
CREATE INDEX answers_msg_idx ON answers (msg_id);
CREATE TRIGGER answers_append_only
    BEFORE UPDATE OR DELETE ON answers
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

CREATE TABLE exceptions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL
                CHECK (kind IN ('ACK_MISSING', 'LEDGER_MISMATCH', 'MISSING_REVERSAL', 'ORPHAN_ACK',
                                'PROCESSING_ERROR')),
    payment_id  uuid REFERENCES payments (id),
    msg_id      text,
    detail      text NOT NULL DEFAULT '',
    state       text NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'RESOLVED')),
    opened_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolved_by text REFERENCES operators (username),
    note        text,
    CONSTRAINT exceptions_subject CHECK (payment_id IS NOT NULL OR msg_id IS NOT NULL),
    CONSTRAINT exceptions_resolution
        CHECK ((state = 'OPEN' AND resolved_at IS NULL AND resolved_by IS NULL)
               OR (state = 'RESOLVED' AND resolved_at IS NOT NULL AND resolved_by IS NOT NULL
                   AND char_length(btrim(note)) > 0))
);
-- At most one OPEN exception of a kind per payment (per msg_id for answers naming no payment).
CREATE UNIQUE INDEX exceptions_one_open_per_payment ON exceptions (kind, payment_id)
    WHERE state = 'OPEN' AND payment_id IS NOT NULL;
CREATE UNIQUE INDEX exceptions_one_open_per_msg ON exceptions (kind, msg_id)
    WHERE state = 'OPEN' AND payment_id IS NULL;
CREATE INDEX exceptions_opened_idx ON exceptions (opened_at DESC, id DESC);
CREATE TRIGGER exceptions_resolved_fixed
    BEFORE UPDATE ON exceptions
    FOR EACH ROW WHEN (OLD.state = 'RESOLVED'
                       OR (OLD.kind, OLD.payment_id, OLD.msg_id, OLD.opened_at)
                          IS DISTINCT FROM (NEW.kind, NEW.payment_id, NEW.msg_id, NEW.opened_at))
    EXECUTE FUNCTION refuse_change('an exception changes only from OPEN to RESOLVED');
CREATE TRIGGER exceptions_kept
    BEFORE DELETE ON exceptions
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
