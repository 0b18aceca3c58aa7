-- The hash of the password a seed file last set for the operator (`paywire seed --file`). A
-- file run again sets a password only when its own differs from this one (a rotation), not
-- when the operator has chosen their own since, which they must: re-running the same file
-- changes nothing. NULL for operators no seed file has given a password.
ALTER TABLE operators ADD COLUMN seeded_password_hash text
    CONSTRAINT operators_seeded_password_argon2 CHECK (seeded_password_hash LIKE '$argon2%');
