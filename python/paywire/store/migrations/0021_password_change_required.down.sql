-- The flag is the only record that a password is one an ADMIN chose: dropped, and added back
-- false by a later upgrade, that password would work with the operator's full rights.
DO $$
BEGIN
    IF EXISTS (SELECT FROM operators WHERE password_change_required) THEN
        RAISE EXCEPTION 'operators still have to replace a password an ADMIN chose, which the '
                        'version before cannot make them do'
            USING HINT = 'have them sign in and choose their own (passwd in the terminal), or '
                         'restore a backup taken before 0021';
    END IF;
END
$$;
ALTER TABLE operators DROP COLUMN password_change_required;
