-- Operators, their bearer sessions and the login throttle (SPEC §6).

-- Refuses a change to a row, giving the trigger's argument as the reason; a WHEN clause on the
-- trigger narrows it to the changes that are refused.
CREATE FUNCTION refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: %', TG_OP, TG_TABLE_NAME,
        coalesce(TG_ARGV[0], 'the table is append-only')
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TABLE operators (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Lower case, so one person cannot hold two accounts differing only in case; `system` names
    -- the gateway itself in histories and the audit log.
    username      text NOT NULL UNIQUE
                  CONSTRAINT operators_username_format
                  CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,63}$' AND username <> 'system'),
    password_hash text NOT NULL CONSTRAINT operators_password_argon2 CHECK (password_hash LIKE '$argon2%'),
    roles         text[] NOT NULL
                  CONSTRAINT operators_roles_allowed
                  CHECK (cardinality(roles) > 0
                         AND array_position(roles, NULL) IS NULL
                         AND roles <@ ARRAY['MAKER', 'CHECKER', 'COMPLIANCE', 'ADMIN', 'AUDITOR']),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER operators_username_fixed
    BEFORE UPDATE OF username ON operators
    FOR EACH ROW WHEN (OLD.username IS DISTINCT FROM NEW.username)
    EXECUTE FUNCTION refuse_change('a user name is permanent: histories and audit rows name it');

-- Only the SHA-256 of a bearer token is stored; the token itself is shown once, at login.
CREATE TABLE sessions (
    token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    operator_id uuid NOT NULL REFERENCES operators (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_operator_idx ON sessions (operator_id);

-- Failed logins per user name, existing or not, so a lockout reveals nothing about which names
-- exist: the recent failure times and, once five fall within fifteen minutes, the lock's end.
CREATE TABLE login_throttle (
    username     text PRIMARY KEY,
    failures     timestamptz[] NOT NULL DEFAULT '{}',
    locked_until timestamptz
);
