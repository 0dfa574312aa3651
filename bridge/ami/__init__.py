"""The Asterisk Manager Interface: the wire format (framer), the actions the
bridge sends (actions) and their bookkeeping (bookkeeping), one connection's
asyncio adapter (protocol), and the link that keeps a logged-in connection up."""
