-- Version 8: a restart loses neither a call in progress nor a text read twice.

-- The network's own timestamp of an incoming text (the SMSC's, from the
-- PDU): a modem re-reading its SIM after a crash offers the same text
-- again, and it is stored once.
ALTER TABLE inbox ADD COLUMN network_time TEXT;

CREATE UNIQUE INDEX inbox_once ON inbox (sender, network_time, body) WHERE network_time IS NOT NULL;

-- Calls in progress, so a restart can finish them: a call that ended
-- while the bridge was down is recorded, never silently lost.
CREATE TABLE open_calls (
    linkedid   TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    last_seen  TEXT NOT NULL
) STRICT;

-- The bridge's own bookkeeping (until when it saw every AMI event...).
CREATE TABLE bridge_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT;
