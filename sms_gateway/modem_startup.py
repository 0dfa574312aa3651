"""Start-up: the dialogue that makes a freshly opened modem ready, run on each connection.

Degrades like python-gsmmodem's start-up: only what sending needs is
required; each thing a modem refuses is said once, with what it means, not
at every reconnect (docs/texting.md, "Modem faults"). In order:

- ESC first: a modem left waiting for a PDU swallows commands until it gets one;
- the SIM PIN before anything else (some SIMs refuse every other command, ATZ
  too, until then); a refused PIN is never sent again: three wrong tries lock
  the SIM;
- ``ATZ``, ``ATE0``, ``AT+CMEE=1``, which a modem may refuse without harm;
- PDU mode, and ``modem.smsc`` when the SIM has no SMS centre;
- the storages: texts read from ME (else SM) where new texts land too,
  status reports from SR, even where the modem does not list it;
- store-and-send (:mod:`sms_gateway.modem_store`): ``AT+CMGW=?`` and a
  storage with room (``AT+CPMS?``), else texts go by plain ``AT+CMGS``;
- ``AT+CNMI``: the configured setting, else the fallbacks, else none (the
  sweep then reads everything);
- registration, signal and operator, for the status.

What it found comes back as a :class:`ModemSetup` for the transport's status
and the inbox's :class:`Storage`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sms_gateway.at_answers import (
    has_smsc,
    is_registered,
    operator_name,
    signal_strength,
    storage_groups,
    storage_room,
)
from sms_gateway.at_channel import AtChannel, ModemError
from sms_gateway.safe_text import printable
from sms_gateway.settings import ModemSettings

log = logging.getLogger(__name__)

# python-gsmmodem's default, then what SIM800-class modems take (<ds>=1), then
# indications for texts only; after that, none (the sweep alone reads texts).
_CNMI_FALLBACKS = ("2,1,0,2", "2,1,0,1", "2,1,0,0")
_NO_STORAGE_CHOICE = (
    "the modem did not let textback choose its storage (AT+CPMS): texts are read from its"
    " default storage, and delivery reports kept in SR are not looked for"
)
_CANNOT_READ = (
    "the modem cannot read texts stored on it (AT+CPMS=? lists no storage): texts go out,"
    " but replies - STOP included - never reach textback"
)
_NO_STORE_AND_SEND = (
    "{why}: texts go straight out (AT+CMGS), so a text a crash interrupts mid-send is"
    " resent with TP-RD, which only some SMS centres honour - the caller may get it twice"
    " (docs/texting.md)"
)
_REPORTS_BY_SWEEP = (
    "delivery reports are not announced: textback reads them from the SR storage every"
    " sweep, where the modem keeps them"
)
# Start-up commands a modem may refuse without harm, and what refusing means.
_OPTIONAL = (
    ("ATZ", "its settings are not reset to its defaults"),
    ("ATE0", "it echoes commands (textback ignores the echo)"),
    ("AT+CMEE=1", "its errors come without a code (a plain ERROR)"),
)


@dataclass(frozen=True, slots=True)
class Storage:
    """Where stored texts and reports are read from, as start-up chose."""

    texts_in: str | None = None  # ME, SM...; None: the modem's default, not chosen
    reports_in: str | None = None  # SR, where the modem takes it
    can_read: bool = True  # False: AT+CPMS=? lists no storage (Nokia S60)


@dataclass(frozen=True, slots=True)
class ModemSetup:
    storage: Storage
    indications: str | None  # the AT+CNMI the modem took; None: it took none
    without_store_and_send: str | None  # why each part cannot be stored first; None: it can
    registered: bool
    signal: int | None
    operator: str | None
    detail: str  # the status line: "ready on SimTel, signal 20", and what is missing


class ModemStartup:
    """Runs the start-up over ``channel``; remembers, across connections, what
    was said already and whether the SIM refused the PIN."""

    def __init__(self, channel: AtChannel, settings: ModemSettings):
        self._channel = channel
        self._settings = settings
        self._noted: set[str] = set()
        self._pin_refused = False

    async def run(self) -> ModemSetup:
        """Raises ModemError for what sending cannot do without, ModemLost if the link goes."""
        channel = self._channel
        await channel.escape()  # a modem left waiting for a PDU swallows commands until ESC
        await self._unlock_sim()
        for command, without_it in _OPTIONAL:
            if not (await channel.command(command)).ok:
                self._note(f"the modem refused {command}: {without_it}")
        await channel.expect_ok("AT+CMGF=0")  # PDU mode
        await self._check_smsc()
        storage = await self._choose_storage()
        store_and_send = await self._without_store_and_send(storage)
        indications = await self._enable_indications()
        return await self._registration(storage, indications, store_and_send)

    async def _unlock_sim(self) -> None:
        """First of all: some SIMs refuse every other command, ATZ too, until the PIN."""
        # Wavecom gives no OK after +CPIN: READY; the line alone is the answer.
        reply = await self._channel.command("AT+CPIN?", partial="+CPIN:")
        state = reply.line_starting("+CPIN:") or ""
        if "READY" in state:
            return
        if "SIM PIN" not in state:
            seen = printable(state or reply.final) or "no answer to AT+CPIN?"
            raise ModemError(f"SIM not ready: {seen}")
        pin = self._settings.pin
        if pin is None:
            raise ModemError("the SIM asks for a PIN: set modem.pin")
        if self._pin_refused:
            # Never try a refused PIN again: three wrong tries lock the SIM (PUK).
            raise ModemError("the SIM refused modem.pin; fix it and restart textback")
        reply = await self._channel.command(f'AT+CPIN="{pin}"', 15)
        if not reply.ok:
            self._pin_refused = True
            raise ModemError(f"the SIM refused the PIN ({reply.final})")

    async def _check_smsc(self) -> None:
        smsc = self._settings.smsc
        smsc_line = await self._answer("AT+CSCA?", "+CSCA:")
        if smsc and not has_smsc(smsc_line):  # the SIM has no SMS centre
            await self._channel.expect_ok(f'AT+CSCA="{smsc}",145')

    async def _choose_storage(self) -> Storage:
        """Texts from ME (the modem's own, larger memory) or SM, reports from SR."""
        reply = await self._channel.command("AT+CPMS=?")
        offered = storage_groups(reply.line_starting("+CPMS:") or "")
        can_read = not offered or bool(offered[0])
        if not reply.ok or not offered:
            self._note(_NO_STORAGE_CHOICE)
            return Storage(can_read=can_read)
        if not can_read:
            self._note(_CANNOT_READ)
            return Storage(can_read=False)
        readable = offered[0]
        # Where new texts land (the 3rd list) must be where they are read from.
        landing = offered[2] if len(offered) > 2 else readable
        candidates = [m for m in ("ME", "SM", "MT") if m in readable]
        both = [m for m in candidates if m in landing]
        texts_in = await self._use_storage(next(iter(both or candidates), None))
        reports_in = "SR" if "SR" in readable or await self._opens("SR", texts_in) else None
        return Storage(texts_in, reports_in)

    async def _opens(self, mem: str, texts_in: str | None) -> bool:
        """Does the modem take ``mem`` though it did not list it? (Quectel EC25
        keeps delivery reports in SR but lists only SM, ME, MT.)"""
        return await self._channel.in_storage(mem, texts_in) is not None

    async def _use_storage(self, mem: str | None) -> str | None:
        """Make ``mem`` the storage read from, and if the modem allows, written
        and received into (MC75i takes no ME for the last)."""
        if mem is not None:
            for mems in (f'"{mem}","{mem}","{mem}"', f'"{mem}","{mem}"', f'"{mem}"'):
                if (await self._channel.command(f"AT+CPMS={mems}")).ok:
                    return mem
        self._note(_NO_STORAGE_CHOICE)
        return None

    async def _without_store_and_send(self, storage: Storage) -> str | None:
        """Why each part cannot be written to storage first (AT+CMGW), then
        sent from there (AT+CMSS) and read back (AT+CMGR); None if it can."""
        why = await self._store_and_send_refused(storage)
        if why is not None:
            self._note(_NO_STORE_AND_SEND.format(why=why))
        return why

    async def _store_and_send_refused(self, storage: Storage) -> str | None:
        if not (await self._channel.command("AT+CMGW=?")).ok:
            return "the modem cannot store a text to send it (AT+CMGW)"
        room = None
        if storage.texts_in is not None:
            room = storage_room(await self._answer("AT+CPMS?", "+CPMS:"))
        if room is None or room[0] != storage.texts_in:
            # A slot must be read back where it was written, to settle a text from it.
            return "the modem would not write texts to the storage they are read from (AT+CPMS)"
        name, used, total = room
        if used >= total:
            return f"the modem's storage {name} is full ({used} of {total})"
        return None

    async def _enable_indications(self) -> str | None:
        """The configured AT+CNMI, else ones more modems take; else none at all."""
        wanted = self._settings.cnmi
        for setting in dict.fromkeys((wanted, *_CNMI_FALLBACKS)):
            if (await self._channel.command(f"AT+CNMI={setting}")).ok:
                if setting != wanted:
                    self._note(
                        f"the modem refused AT+CNMI={wanted}; using {setting}: "
                        f"{_cnmi_meaning(setting)}"
                    )
                return setting
        self._note(
            "the modem refused every AT+CNMI: new texts and delivery reports are not "
            f"announced; textback reads them from the SIM every {self._settings.sweep_seconds:g} s"
        )
        return None

    async def _registration(
        self, storage: Storage, indications: str | None, store_and_send: str | None
    ) -> ModemSetup:
        registered = is_registered(await self._answer("AT+CREG?", "+CREG:"))
        signal = signal_strength(await self._answer("AT+CSQ", "+CSQ:"))
        operator = operator_name(await self._answer("AT+COPS?", "+COPS:"))
        if registered:
            detail = f"ready on {operator or 'the network'}, signal {signal}"
        else:
            detail = "connected, but the SIM is not registered on a network"
        if not storage.can_read:
            detail += "; sending only: this modem cannot read texts"
        elif indications is None:
            detail += f"; new texts read every {self._settings.sweep_seconds:g} s"
        return ModemSetup(
            storage, indications, store_and_send, registered, signal, operator, detail
        )

    async def _answer(self, command: str, prefix: str) -> str:
        """The line of ``command``'s answer starting ``prefix``; "" if none came."""
        return (await self._channel.command(command)).line_starting(prefix) or ""

    def _note(self, message: str) -> None:
        """A way this modem differs, said once, not at every reconnect."""
        if message not in self._noted:
            self._noted.add(message)
            log.warning("modem: %s", message)


def _cnmi_meaning(setting: str) -> str:
    fields = (setting.split(",") + ["0"] * 4)[:4]
    texts = (
        "new texts are announced (+CMTI)"
        if fields[1] not in ("", "0")
        else "new texts are not announced (read from the SIM every sweep)"
    )
    reports = {
        "2": "delivery reports are kept and announced (+CDSI)",
        "1": "delivery reports come straight to textback (+CDS)",
    }.get(fields[3], _REPORTS_BY_SWEEP)
    return f"{texts}; {reports}"
