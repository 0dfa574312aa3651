"""SMS transports behind one interface (GSM modem, SIP MESSAGE via Asterisk): coming next."""
