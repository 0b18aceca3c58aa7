DROP TABLE ledger_entries;
DROP TABLE postings;
DROP FUNCTION ledger_check_balanced();
