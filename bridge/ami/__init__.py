"""The Asterisk Manager Interface: the wire format (framer) and the link that
keeps a logged-in connection up."""
