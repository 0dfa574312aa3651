"""The FastAGI route the dialplan can call to report a call (agi.server)."""
