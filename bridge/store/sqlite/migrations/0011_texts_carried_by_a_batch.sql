-- Version 11: an owner alert carried by a batch text (bridge/store/sqlite/batches.py)
-- names the batch, so settling a text finds what it carries by an index
-- instead of by a note in last_error among every text ever sent to that number.
ALTER TABLE outbox ADD COLUMN carried_by INTEGER REFERENCES outbox (id);

CREATE INDEX outbox_carried ON outbox (carried_by) WHERE carried_by IS NOT NULL;
