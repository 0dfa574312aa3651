"""What can go wrong on the AMI link.

The ones a caller outside the bridge may meet (the SIP transport, which knows
nothing of bridge.ami) are also the builtin they mean: a link that is down is
a ``ConnectionError``; an action nobody answered is the builtin
``TimeoutError`` raised by the action's own timeout.
"""

from __future__ import annotations


class AmiError(Exception):
    pass


class NotConnected(AmiError, ConnectionError):
    """No logged-in AMI connection right now."""


class ConnectionLost(AmiError, ConnectionError):
    """The connection went away while an action waited for its answer."""


class LoginRefused(AmiError):
    """Asterisk answered the Login with an error (wrong user, secret or permit)."""


class LinkStalled(AmiError):
    """A Ping went unanswered: the socket is open but Asterisk is not talking."""
