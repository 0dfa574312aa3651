"""Telling the owners: who hears of each event (audience), the words (wording),
and the worker that emails and queues SMS alerts."""
