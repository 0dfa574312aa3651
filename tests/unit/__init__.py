"""Unit tier: our own code fed values, bytes or events directly - no sockets, no
ptys, no other processes, no clock but an injected one. A store, if any, is a
throw-away SQLite file under tmp_path used as a plain value store (the framer,
the AT session, the decision machine, config parsing, the PDU codecs, texting
rules, the supervisor on real tasks)."""
