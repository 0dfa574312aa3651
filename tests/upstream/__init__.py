"""Upstream tier: what the third-party libraries we build on really do, shown on
the bare library. Mostly strict xfails, one per defect our code closes: each
flips to a failure (XPASS) the day the library fixes it, so the workaround can
go. Today: panoramisk (AMI parser, FastAGI, Manager login) and python-gsmmodem
(its codec, and the bare library over the simulated modem's pty)."""
