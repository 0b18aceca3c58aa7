-- The append-only, hash-chained audit log (SPEC §10a); docs/DATABASE.md defines the hash.

CREATE TABLE audit_logs (
    -- Assigned by the writer under the chain lock: 1, 2, 3 ... without gaps, in chain order.
    id         bigint PRIMARY KEY CHECK (id > 0),
    timestamp  timestamptz NOT NULL,
    operator   text NOT NULL,
    action     text NOT NULL,
    entity     text NOT NULL,
    entity_id  text NOT NULL,
    before     jsonb,
    after      jsonb,
    request_id text,
    prev_hash  text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash       text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_logs_timestamp_idx ON audit_logs (timestamp);
CREATE INDEX audit_logs_entity_idx ON audit_logs (entity, entity_id);

-- The chain's head, one row: writers lock it to append in order. The anchor is the last row a
-- retention purge removed, where verification starts.
CREATE TABLE audit_chain (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id     bigint NOT NULL,
    last_hash   text NOT NULL,
    anchor_id   bigint NOT NULL,
    anchor_hash text NOT NULL
);
INSERT INTO audit_chain (last_id, last_hash, anchor_id, anchor_hash)
VALUES (0, repeat('0', 64), 0, repeat('0', 64));
CREATE TRIGGER audit_chain_forward_only
    BEFORE UPDATE ON audit_chain
    FOR EACH ROW WHEN (NEW.last_id < OLD.last_id OR NEW.anchor_id < OLD.anchor_id)
    EXECUTE FUNCTION refuse_change('the audit chain only grows');
CREATE TRIGGER audit_chain_kept
    BEFORE DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Audit rows are never updated. They are deleted only by audit_purge, which marks its transaction,
-- and only once older than the shortest retention SPEC allows (seven years).
CREATE FUNCTION audit_logs_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('paywire.audit_purge', true) = 'on' THEN
        IF OLD.timestamp < now() - interval '7 years' THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation',
              HINT = 'rows older than the retention period are removed with audit_purge()';
END
$$;
CREATE TRIGGER audit_logs_append_only
    BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_guard();
CREATE TRIGGER audit_logs_no_truncate
    BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Removes the oldest rows, all older than purge_before, and moves the anchor to the last of them.
CREATE FUNCTION audit_purge(purge_before timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    first_kept  bigint;
    last_purged audit_logs%ROWTYPE;
    purged      bigint;
BEGIN
    IF purge_before > now() - interval '7 years' THEN
        RAISE EXCEPTION 'audit rows are kept for at least seven years'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM 1 FROM audit_chain FOR UPDATE;
    SELECT min(id) INTO first_kept FROM audit_logs WHERE timestamp >= purge_before;
    SELECT * INTO last_purged FROM audit_logs
    WHERE first_kept IS NULL OR id < first_kept
    ORDER BY id DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    PERFORM set_config('paywire.audit_purge', 'on', true);
    DELETE FROM audit_logs WHERE id <= last_purged.id;
    GET DIAGNOSTICS purged = ROW_COUNT;
    PERFORM set_config('paywire.audit_purge', 'off', true);
    UPDATE audit_chain SET anchor_id = last_purged.id, anchor_hash = last_purged.hash;
    RETURN purged;
END
$$;
REVOKE ALL ON FUNCTION audit_purge(timestamptz) FROM PUBLIC;
