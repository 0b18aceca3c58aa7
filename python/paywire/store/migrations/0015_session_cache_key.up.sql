-- The key that signs the session cache's entries in Redis (docs/SECURITY.md, "Shared state").
-- Redis is not trusted with sessions: whoever can write to it could otherwise store an entry
-- naming any operator with any roles under a token of their choosing. The key lives here, with
-- the sessions it vouches for, where every gateway process reads it and Redis never sees it.
-- 32 bytes from two version-4 UUIDs: 244 bits from the server's strong random source, without
-- an extension.
CREATE TABLE session_cache_key (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    secret   bytea NOT NULL CHECK (octet_length(secret) = 32)
);
INSERT INTO session_cache_key (secret)
VALUES (uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));
