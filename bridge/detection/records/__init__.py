"""Asterisk's call records (CDRs): missed calls the bridge could not see on AMI."""
