ALTER TABLE operators DROP COLUMN password_change_required;
