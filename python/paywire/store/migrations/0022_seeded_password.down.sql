-- The hash is the only record of which password a seed file set: dropped, and added back empty
-- by a later upgrade, the next run of the same file would give its password back to every
-- operator who has chosen their own since (flagged to choose again, their sessions ended).
DO $$
BEGIN
    IF EXISTS (SELECT FROM operators WHERE seeded_password_hash IS NOT NULL) THEN
        RAISE EXCEPTION 'operators hold passwords a seed set (paywire seed, with or without '
                        '--file, or paywire demo), which the version before would compare '
                        'with their own ones at the next run of a seed file'
            USING HINT = 'to go back all the same, clear them as the schema owner (UPDATE '
                         'operators SET seeded_password_hash = NULL) and run no seed file '
                         'until the next upgrade; or restore a backup taken before 0022';
    END IF;
END
$$;
ALTER TABLE operators DROP COLUMN seeded_password_hash;
