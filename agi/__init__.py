"""FastAGI route the dialplan can call after Dial(): coming with the installer's kit."""
