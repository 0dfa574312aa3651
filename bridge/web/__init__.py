"""The owner inbox, served by the bridge (docs/inbox.md)."""
