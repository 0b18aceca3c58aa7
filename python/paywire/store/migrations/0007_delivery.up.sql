-- Delivery scheduling of stored messages (SPEC §4 delivery guarantee, several gateway processes).

-- When an unanswered message is next due for a transmission; null once it has none left (its
-- ACK_MISSING exception is open) or it was answered. A process that sends a message pushes this
-- a full ACK timeout ahead, so no other process resends it while the answer may still come.
ALTER TABLE messages ADD COLUMN next_attempt_at timestamptz;
-- Transmissions allowed for this message when an operator granted more than
-- PAYWIRE_MAX_ATTEMPTS (a retry after ACK_MISSING); null means the setting.
ALTER TABLE messages ADD COLUMN attempt_limit integer CHECK (attempt_limit > 0);
-- The gateway process that made the last transmission, for diagnosis after a takeover.
ALTER TABLE messages ADD COLUMN sent_by text;
CREATE INDEX messages_due_idx ON messages (next_attempt_at)
    WHERE answered_at IS NULL AND next_attempt_at IS NOT NULL;
