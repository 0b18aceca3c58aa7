-- Without it, a seed file run again compares its passwords with the operators' own, as before
-- 0022, and gives back the file's to everyone who has chosen their own (flagged to choose
-- again): run no seed file between the rollback and the next upgrade.
ALTER TABLE operators DROP COLUMN seeded_password_hash;
