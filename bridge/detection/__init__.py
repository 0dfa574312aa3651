"""Deciding, once per call, whether an inbound call was missed: the call tracker
fed AMI events, replay of recordings, and the catch-up from Asterisk's own
call records."""
