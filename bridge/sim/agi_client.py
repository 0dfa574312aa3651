"""Asterisk's side of FastAGI, for tests: what ``AGI(agi://host:port/script,args)``
sends (res_agi.c: the ``agi_*`` variables, one per line, then a blank line),
and answers to the commands the script sends back (``GET VARIABLE``)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_GET_VARIABLE = re.compile(r'^GET VARIABLE "?([^"]+)"?$')


@dataclass
class AgiCall:
    """One channel running ``AGI()``: its variables and its dialplan's arguments."""

    script: str = "missed"
    channel: str = "PJSIP/trunk-00000007"
    uniqueid: str = "1795617278.10"
    callerid: str = "+15125559876"
    calleridname: str = "Jane Caller"
    context: str = "from-trunk"
    extension: str = "h"
    dnid: str = "+15125550100"
    arguments: Sequence[str] = ()
    variables: Mapping[str, str] = field(default_factory=dict)  # what GET VARIABLE finds

    def request(self, host: str, port: int) -> bytes:
        env = {
            "agi_network": "yes",
            "agi_network_script": self.script,
            "agi_request": f"agi://{host}:{port}/{self.script}",
            "agi_channel": self.channel,
            "agi_language": "en",
            "agi_type": self.channel.split("/", 1)[0],
            "agi_uniqueid": self.uniqueid,
            "agi_version": "22.1.0",
            "agi_callerid": self.callerid,
            "agi_calleridname": self.calleridname,
            "agi_callingpres": "0",
            "agi_callingani2": "0",
            "agi_callington": "0",
            "agi_callingtns": "0",
            "agi_dnid": self.dnid,
            "agi_rdnis": "unknown",
            "agi_context": self.context,
            "agi_extension": self.extension,
            "agi_priority": "1",
            "agi_enhanced": "0.0",
            "agi_accountcode": "",
            "agi_threadid": "140245678901234",
        }
        env |= {f"agi_arg_{n}": value for n, value in enumerate(self.arguments, start=1)}
        return "".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n"


async def run_agi(host: str, port: int, call: AgiCall, *, within: float = 5.0) -> list[str]:
    """Connect, send the request, answer commands until the server hangs up.
    Returns the commands the script sent."""
    reader, writer = await asyncio.open_connection(host, port)
    commands: list[str] = []
    try:
        writer.write(call.request(host, port))
        with contextlib.suppress(ConnectionResetError):
            await writer.drain()
        async with asyncio.timeout(within):
            while line := await _read_line(reader):
                command = line.decode().strip()
                commands.append(command)
                wanted = _GET_VARIABLE.match(command)
                if wanted and wanted.group(1) in call.variables:
                    writer.write(f"200 result=1 ({call.variables[wanted.group(1)]})\n".encode())
                else:
                    writer.write(b"200 result=0\n")
                await writer.drain()
    finally:
        writer.close()
    return commands


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    """A line, or b"" once the server has hung up (closed or reset)."""
    try:
        return await reader.readline()
    except ConnectionResetError:
        return b""
