-- An operator whose password an ADMIN chose (a new operator, or a password set for them) must
-- choose their own before anything else: whoever set it knows it. Their own change clears it.
ALTER TABLE operators ADD COLUMN password_change_required boolean NOT NULL DEFAULT false;
