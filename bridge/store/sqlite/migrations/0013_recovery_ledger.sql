-- The recovery ledger: what became of a lead after the conversation, as its
-- owners record it (BOOKED 12 450, WON 12, LOST 12 price, or `textback
-- booked|won|lost`). Every step is kept; a lead's state is its latest step
-- (bridge/core/ledger.py). Amounts are hundredths of the business's currency.
CREATE TABLE lead_steps (
    id         INTEGER PRIMARY KEY,
    thread_id  INTEGER NOT NULL REFERENCES threads (id),
    step       TEXT NOT NULL CHECK (step IN ('booked', 'won', 'lost')),
    cents      INTEGER CHECK (cents >= 0),
    reason     TEXT,
    owner_id   TEXT NOT NULL,
    at         TEXT NOT NULL
) STRICT;

-- A lead's steps in order: its state on each step, the report's and the
-- digest's ledger (a thread's steps, oldest first, by the rowid after it).
CREATE INDEX lead_steps_by_thread ON lead_steps (thread_id);

