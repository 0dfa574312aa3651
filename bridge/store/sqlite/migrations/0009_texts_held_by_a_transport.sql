-- Version 9: a text that may have gone out stays with the transport that has it.

-- The transport a text was handed to ('modem', 'sip'), set in the statement
-- that marks it 'sending'. While the text may have gone out (maybe_sent) it
-- is retried there only: another transport would send it a second time.
ALTER TABLE outbox ADD COLUMN transport TEXT;

-- Where that transport keeps the text's parts until they are settled (the
-- modem's storage indices with store-and-send), as a JSON array.
ALTER TABLE outbox ADD COLUMN slots TEXT NOT NULL DEFAULT '[]';
