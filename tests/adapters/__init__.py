"""Adapters tier: one real adapter against a faithful double over a real socket,
pty or file - the AMI client against FakeAsterisk, the modem transport against
the simulated modem on a pty, alerts against an SMTP server (aiosmtpd), SIP
messaging and FastAGI, call-record readers (Master.csv, a real MariaDB), and the
SQLite store's own file, schema and migrations."""
