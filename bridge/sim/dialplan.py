"""Just enough of Asterisk's dialplan to run the shipped inbound-text route
(config/asterisk/extensions.conf, [textback-sms-in]) against a message: the
AMI event it raises, byte for byte as Asterisk 22 would send it. Tests use
it, so what the bridge is tested against is what the installer installs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "asterisk" / "extensions.conf"


def uriencode(value: str) -> str:
    """URIENCODE(): every byte of the UTF-8 but the unreserved ones as %XX."""
    return quote(value.encode("utf-8"), safe="-._~")


def user_event_application(dialplan: str, context: str) -> str:
    """The UserEvent(...) arguments in ``context`` of an extensions.conf text."""
    in_context = False
    for raw in dialplan.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            in_context = line[1:-1] == context
        elif in_context and "UserEvent(" in line:
            arguments = line.split("UserEvent(", 1)[1]
            return arguments[: arguments.rindex(")")]
    raise ValueError(f"no UserEvent() in [{context}]")


def evaluate(expression: str, message: Mapping[str, str]) -> str:
    """Substitute ``${MESSAGE(x)}`` and ``${URIENCODE(...)}`` as Asterisk does:
    the extent of each ``${...}`` is found in the template by brace matching,
    its argument evaluated first, and a substituted value never parsed again
    (a body with parentheses or braces stays text)."""
    out: list[str] = []
    i = 0
    while i < len(expression):
        if not expression.startswith("${", i):
            out.append(expression[i])
            i += 1
            continue
        depth, j = 0, i + 1
        while True:
            depth += {"{": 1, "}": -1}.get(expression[j], 0)
            if depth == 0:
                break
            j += 1
        name, _, rest = expression[i + 2 : j].partition("(")
        argument = evaluate(rest[: rest.rindex(")")], message)
        if name == "MESSAGE":
            out.append(message.get(argument, ""))
        elif name == "URIENCODE":
            out.append(uriencode(argument))
        else:
            raise ValueError(f"the dialplan double does not know {name}()")
        i = j + 1
    return "".join(out)


def inbound_text_event(
    message: Mapping[str, str],
    *,
    dialplan: str | None = None,
    context: str = "textback-sms-in",
    uniqueid: str = "1764086400.501",
) -> bytes:
    """The UserEvent the shipped route raises for ``message`` (from, to, body).

    Arguments are split on commas *after* substitution, as Asterisk does -
    which is why the shipped route URIENCODEs every value.
    """
    text = SHIPPED.read_text() if dialplan is None else dialplan
    arguments = evaluate(user_event_application(text, context), message).split(",")
    name, headers = arguments[0], arguments[1:]
    lines = [
        "Event: UserEvent",
        "Privilege: user,all",
        "Channel: Message/ast_msg_queue",
        "ChannelState: 6",
        "ChannelStateDesc: Up",
        "CallerIDNum: <unknown>",
        "CallerIDName: <unknown>",
        "ConnectedLineNum: <unknown>",
        "ConnectedLineName: <unknown>",
        "Language: en",
        "AccountCode: ",
        f"Context: {context}",
        "Exten: sms",
        "Priority: 1",
        f"Uniqueid: {uniqueid}",
        f"Linkedid: {uniqueid}",
        f"UserEvent: {name}",
        *(header.strip() for header in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
