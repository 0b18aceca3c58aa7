-- Ledger accounts: customers' accounts and one clearing account per currency.

CREATE TABLE accounts (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account    text NOT NULL UNIQUE
               CHECK (char_length(account) BETWEEN 1 AND 34 AND account = btrim(account)),
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 140),
    currency   text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The opening balance plus the sum of the account's ledger entries.
    balance    numeric NOT NULL DEFAULT 0,
    overdraft  boolean NOT NULL DEFAULT false,
    -- CLEARING: the settlement (nostro) account a posting moves the debtor's money to.
    kind       text NOT NULL DEFAULT 'CUSTOMER' CHECK (kind IN ('CUSTOMER', 'CLEARING')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_funded CHECK (balance >= 0 OR overdraft),
    -- Targets of the foreign keys that tie payments and entries to an account in its currency.
    CONSTRAINT accounts_account_currency_key UNIQUE (account, currency),
    CONSTRAINT accounts_id_currency_key UNIQUE (id, currency)
);
CREATE UNIQUE INDEX accounts_one_clearing_per_currency ON accounts (currency) WHERE kind = 'CLEARING';
