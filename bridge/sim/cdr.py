"""The call records Asterisk 22 writes for the calls the AMI double plays.

``CdrEngine`` follows the same AMI events the double sends (the bytes of the
real recordings, or callgen's) and, as each channel hangs up, gives the
records Asterisk's CDR engine (main/cdr.c) would dispatch for it; the
functions below write them as cdr_csv writes Master.csv (cdr/cdr_csv.c) and
as FreePBX's asteriskcdrdb.cdr holds them.

It models the engine's states for the common cases - Single, Dial,
DialedPending, Bridge, Finalized; one record per dialled leg; a new record
when Party A runs a new application after a dial or a bridge; Party A chosen
by "a dialled channel is never Party A, else the older one"; dialled
channels alone leave no record; ``unanswered``, ``congestion`` and
``canceldispositionenabled`` of cdr.conf. It does not model parking,
multi-party bridges, forked records, batch mode or hangup handlers.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import pymysql

from bridge.ami.framer import AmiFramer, AmiMessage
from bridge.detection.records.cdr import TIME_FORMAT, CdrRecord
from bridge.detection.replay import EvidenceClock

# enum ast_cdr_disposition (include/asterisk/cdr.h): the numbers matter, the
# "unanswered" filter compares them.
_NOANSWER, _NULL, _FAILED, _BUSY, _ANSWERED, _CONGESTION, _CANCEL = 0, 1, 2, 4, 8, 16, 32
_DISPOSITION_TEXT = {
    _NOANSWER: "NO ANSWER", _NULL: "NO ANSWER", _FAILED: "FAILED", _BUSY: "BUSY",
    _ANSWERED: "ANSWERED", _CONGESTION: "CONGESTION", _CANCEL: "CANCEL",
}  # fmt: skip
_FIELD_BYTES = 80  # AST_MAX_EXTENSION: clid, src, dst, dcontext, channel, ... in struct ast_cdr
_NAME_BYTES = 128  # ast_callerid_merge()'s buffer for the escaped name
_CSV_BUFFER = 1024  # cdr_csv builds a row in this and drops a longer one


@dataclass(frozen=True)
class CdrSettings:
    """cdr.conf as the double's Asterisk has it. The defaults are Asterisk 22's
    own (and the sample [csv] section, plus newcdrcolumns=yes);
    ``RECOMMENDED`` is what docs/detection.md asks installers to set."""

    unanswered: bool = False  # [general] unanswered
    congestion: bool = False  # [general] congestion
    cancel_disposition: bool = False  # [general] canceldispositionenabled
    usegmtime: bool = True  # [csv]
    loguniqueid: bool = True
    loguserfield: bool = True
    zone: tzinfo = UTC  # the PBX's local time zone (for usegmtime=no and FreePBX's table)

    @property
    def csv_zone(self) -> tzinfo:
        return UTC if self.usegmtime else self.zone


RECOMMENDED = CdrSettings(unanswered=True)
_Handler = Callable[[AmiMessage, datetime], "list[CdrRecord] | None"]


class _State(enum.Enum):
    SINGLE = "Single"
    DIAL = "Dial"
    DIALED_PENDING = "DialedPending"
    BRIDGE = "Bridge"
    FINALIZED = "Finalized"


class _Enter(enum.Enum):
    """What a record makes of its channel entering a bridge (process_bridge_enter)."""

    ONLY_PARTY = 1
    OBTAINED_PARTY_B = 2
    NO_PARTY_B = 3
    NEED_CDR = 4


_HANDLED = (_Enter.ONLY_PARTY, _Enter.OBTAINED_PARTY_B, _Enter.NO_PARTY_B)
_LIVE_WITH_B = (_State.DIAL, _State.BRIDGE)  # states that follow their Party B


@dataclass(frozen=True)
class _Snap:
    """A channel snapshot: what the engine knows of a channel at one moment."""

    name: str
    uniqueid: str
    linkedid: str
    created: int
    state: str = "Down"
    cid_num: str = ""
    cid_name: str = ""
    context: str = ""
    exten: str = ""
    priority: str = "1"
    appl: str = ""
    data: str = ""
    cause: str = ""


@dataclass(eq=False)
class _Cdr:
    party_a: _Snap
    sequence: int
    start: datetime
    state: _State = _State.SINGLE
    party_b: _Snap | None = None
    answer: datetime | None = None
    end: datetime | None = None
    disposition: int = _NULL
    appl: str = ""
    data: str = ""
    context: str = ""
    exten: str = ""
    linkedid: str = ""
    bridge: str = ""
    lock_app: bool = False


@dataclass
class CdrEngine:
    """Feed AMI events in order with the time each happened; ``feed`` returns
    the records dispatched by that event (when a channel hangs up)."""

    settings: CdrSettings = field(default_factory=CdrSettings)
    _channels: dict[str, _Snap] = field(default_factory=dict)  # live, by Uniqueid
    _chains: dict[str, list[_Cdr]] = field(default_factory=dict)  # Party A's records
    _dialed: set[str] = field(default_factory=set)  # channels a Dial created
    _dids: dict[str, str] = field(default_factory=dict)
    _bridges: dict[str, list[str]] = field(default_factory=dict)
    _sequence: Iterator[int] = field(default_factory=itertools.count)
    _created: Iterator[int] = field(default_factory=itertools.count)
    _handlers: dict[str, _Handler] = field(init=False)

    def __post_init__(self) -> None:
        self._handlers = {
            "Newchannel": self._on_newchannel,
            "Newexten": self._on_update,
            "Newstate": self._on_update,
            "NewCallerid": self._on_update,
            "VarSet": self._on_varset,
            "DialBegin": self._on_dial_begin,
            "DialEnd": self._on_dial_end,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "Hangup": self._on_hangup,
        }

    def feed(self, message: AmiMessage, now: datetime) -> list[CdrRecord]:
        handler = self._handlers.get(message.event or "")
        if handler is None:
            return []
        return handler(message, now.replace(microsecond=0)) or []

    def hang_up_all(self, now: datetime) -> list[CdrRecord]:
        """Every channel still up hangs up (a stream that stopped mid-call, or
        left helper channels up), dispatching their records."""
        records: list[CdrRecord] = []
        for snap in list(self._channels.values()):
            hangup = AmiMessage.from_pairs(
                [("Event", "Hangup"), ("Uniqueid", snap.uniqueid), ("Channel", snap.name),
                 ("ChannelStateDesc", snap.state), ("CallerIDNum", snap.cid_num),
                 ("CallerIDName", snap.cid_name), ("Context", snap.context),
                 ("Exten", snap.exten), ("Priority", snap.priority),
                 ("Linkedid", snap.linkedid), ("Cause", "16")]
            )  # fmt: skip
            records += self.feed(hangup, now)
        return records

    # ------------------------------------------------------------ snapshots

    def _snapshot(self, message: AmiMessage, prefix: str = "") -> _Snap | None:
        """The channel the headers (``prefix``: "" or "Dest") describe, updated.

        Only Newexten moves a channel in the dialplan: every other event
        repeats where it is (and callgen's already name the next priority).
        """
        old = self._channels.get(message.get(f"{prefix}Uniqueid"))
        if old is None:
            return None
        snap = replace(
            old,
            name=message.get(f"{prefix}Channel") or old.name,
            state=message.get(f"{prefix}ChannelStateDesc") or old.state,
            cid_num=_known(message.get(f"{prefix}CallerIDNum")),
            cid_name=_known(message.get(f"{prefix}CallerIDName")),
            linkedid=message.get(f"{prefix}Linkedid") or old.linkedid,
        )
        if message.event in ("Newexten", "Newchannel") and not prefix:
            snap = replace(
                snap,
                context=message.get("Context"),
                exten=message.get("Exten"),
                priority=message.get("Priority"),
                appl=message.get("Application"),
                data=message.get("AppData"),
            )
        self._channels[snap.uniqueid] = snap
        return snap

    def _on_newchannel(self, message: AmiMessage, now: datetime) -> None:
        uniqueid = message.get("Uniqueid")
        self._channels[uniqueid] = _Snap(
            message.get("Channel"), uniqueid, message.get("Linkedid"), next(self._created)
        )
        snap = self._snapshot(message)
        assert snap is not None
        root = _Cdr(party_a=snap, sequence=next(self._sequence), start=now)
        self._chains[uniqueid] = [root]
        self._process_party_a(root, snap, now)

    def _on_varset(self, message: AmiMessage, now: datetime) -> None:
        uniqueid = message.get("Uniqueid")
        if uniqueid in self._channels and message.get("Variable") == "FROM_DID":
            self._dids[uniqueid] = message.get("Value")

    def _on_update(self, message: AmiMessage, now: datetime) -> None:
        """A channel snapshot update (handle_channel_snapshot_update_message)."""
        old = self._channels.get(message.get("Uniqueid"))
        snap = self._snapshot(message)
        if old is None or snap is None:
            return
        chain = self._chains[snap.uniqueid]
        rejected = [self._process_party_a(cdr, snap, now) for cdr in chain]
        if all(rejected) and snap.appl and _cep_changed(old, snap):
            cdr = self._append(chain, now)
            self._process_party_a(cdr, snap, now)
        self._update_party_b(snap)

    def _update_party_b(self, snap: _Snap) -> None:
        for cdr in self._all_records():
            party_b = cdr.party_b
            if party_b and party_b.uniqueid == snap.uniqueid and cdr.state in _LIVE_WITH_B:
                cdr.party_b = snap

    def _all_records(self) -> Iterator[_Cdr]:
        return itertools.chain.from_iterable(self._chains.values())

    # ------------------------------------------------------------ Party A

    def _process_party_a(self, cdr: _Cdr, snap: _Snap, now: datetime) -> bool:
        """Update a record from its Party A; True when the record refuses
        (finalized), which may call for a new one."""
        if cdr.state is _State.FINALIZED:
            return True
        if cdr.state is _State.DIALED_PENDING and _cep_changed(cdr.party_a, snap):
            if cdr.party_b is not None:  # the dialled party answered, we run dialplan on
                self._finalize(cdr, now)
                return True
            cdr.state = _State.SINGLE
        self._base_party_a(cdr, snap, now)
        return False

    @staticmethod
    def _base_party_a(cdr: _Cdr, snap: _Snap, now: datetime) -> None:
        cdr.context, cdr.exten, cdr.linkedid = snap.context, snap.exten, snap.linkedid
        cdr.party_a = snap
        appdial = snap.appl.lower().startswith("appdial")
        if not cdr.lock_app and snap.appl and (not appdial or not cdr.appl):
            cdr.appl, cdr.data = snap.appl, snap.data
            cdr.lock_app = snap.appl == "Dial"  # pre-dial handlers must not show
        if snap.state == "Up" and cdr.answer is None:
            cdr.answer = now

    def _append(self, chain: list[_Cdr], now: datetime) -> _Cdr:
        """A new record for the chain's Party A (cdr_object_create_and_append)."""
        last = chain[-1]
        cdr = _Cdr(
            party_a=last.party_a,
            sequence=next(self._sequence),
            start=now,
            appl=last.appl,
            data=last.data,
            context=last.context,
            exten=last.exten,
            linkedid=last.linkedid,
        )
        if cdr.party_a.state == "Up":
            cdr.answer = now
        chain.append(cdr)
        return cdr

    # ------------------------------------------------------------ dialling

    def _on_dial_begin(self, message: AmiMessage, now: datetime) -> None:
        peer = self._snapshot(message, "Dest")
        caller = self._snapshot(message)
        if peer is None or caller is None:
            return  # an originated channel dials alone: no caller record
        self._dialed.add(peer.uniqueid)
        chain = self._chains[caller.uniqueid]
        unhandled = True
        for cdr in chain:
            if cdr.state is _State.SINGLE:
                self._start_dial(cdr, caller, peer, now)
                unhandled = False
            elif cdr.state is _State.DIALED_PENDING:
                self._finalize(cdr, now)
        if unhandled:  # a parallel dial, or a dial after an earlier one: one record per leg
            self._start_dial(self._append(chain, now), caller, peer, now)

    def _start_dial(self, cdr: _Cdr, caller: _Snap, peer: _Snap, now: datetime) -> None:
        self._base_party_a(cdr, caller, now)
        cdr.party_b = peer
        cdr.lock_app = True  # the application that tied the two parties stays
        cdr.state = _State.DIAL

    def _on_dial_end(self, message: AmiMessage, now: datetime) -> None:
        peer = self._snapshot(message, "Dest")
        caller = self._snapshot(message)
        if peer is None or caller is None:
            return
        for cdr in self._chains[caller.uniqueid]:
            if cdr.state is _State.DIAL and cdr.party_b and cdr.party_b.uniqueid == peer.uniqueid:
                cdr.party_a, cdr.party_b = caller, peer
                cdr.disposition = self._dial_disposition(message.get("DialStatus"))
                if cdr.disposition == _ANSWERED:
                    cdr.state = _State.DIALED_PENDING  # wait: bridged, or dialplan goes on
                else:
                    self._finalize(cdr, now)

    def _dial_disposition(self, status: str) -> int:
        """dial_status_to_disposition() in main/cdr.c."""
        if status == "ANSWER":
            return _ANSWERED
        if status == "BUSY":
            return _BUSY
        if status == "NOANSWER":
            return _NOANSWER
        if status == "CANCEL":
            return _CANCEL if self.settings.cancel_disposition else _NOANSWER
        if status == "CONGESTION":
            return _CONGESTION if self.settings.congestion else _FAILED
        return _FAILED

    # ------------------------------------------------------------ bridges

    def _on_bridge_enter(self, message: AmiMessage, now: datetime) -> None:
        snap = self._snapshot(message)
        if snap is None:
            return
        bridge = message.get("BridgeUniqueid")
        self._bridges.setdefault(bridge, []).append(snap.uniqueid)
        chain = self._chains[snap.uniqueid]
        for _ in range(2):  # nothing handled it: a new record will (try_again)
            handled = False
            for cdr in chain:
                self._process_party_a(cdr, snap, now)
                result = self._bridge_enter(cdr, bridge, now)
                if result is _Enter.NO_PARTY_B:
                    self._finalize_times(chain[0], now)  # as main/cdr.c does
                handled = handled or result in _HANDLED
            if handled:
                return
            self._append(chain, now)

    def _bridge_enter(self, cdr: _Cdr, bridge: str, now: datetime) -> _Enter | None:
        if cdr.state is _State.FINALIZED:
            return _Enter.NEED_CDR
        if cdr.state not in (_State.SINGLE, _State.DIAL, _State.DIALED_PENDING):
            return None
        others = [c for c in self._bridges[bridge] if c != cdr.party_a.uniqueid]
        single = cdr.state is _State.SINGLE
        cdr.bridge, cdr.state = bridge, _State.BRIDGE
        if not others:
            return _Enter.ONLY_PARTY
        candidates = [
            cand
            for other in others
            for cand in self._chains.get(other, [])
            if cand.state is _State.BRIDGE and cand.bridge == bridge
        ]
        take = self._take_party_b if single else self._keep_party_b
        obtained = any(take(cdr, cand, now) for cand in candidates)
        return _Enter.OBTAINED_PARTY_B if obtained else _Enter.NO_PARTY_B

    def _take_party_b(self, cdr: _Cdr, cand: _Cdr, now: datetime) -> bool:
        """single_state_bridge_enter_comparison(): can ``cand``'s parties be ours?"""
        me = cdr.party_a
        if cand.party_a.uniqueid == me.uniqueid:
            return False
        if self._party_a_of(me, cand.party_a) is me:
            cdr.party_b = cand.party_a
            if cand.party_b is None:
                self._finalize_times(cand, now)  # we took them: their record ends
            return True
        if cand.party_b is None or cand.party_b.uniqueid == me.uniqueid:
            return False
        if self._party_a_of(me, cand.party_b) is me:
            cdr.party_b = cand.party_b
            return True
        return False

    def _keep_party_b(self, cdr: _Cdr, cand: _Cdr, now: datetime) -> bool:
        """dial_state_process_bridge_enter(): our dialled party is in the bridge."""
        if cdr.party_b is None or cand.party_a.uniqueid != cdr.party_b.uniqueid:
            return False
        cdr.party_b = cand.party_a
        if cand.party_b is None:
            self._finalize_times(cand, now)
        return True

    def _party_a_of(self, left: _Snap, right: _Snap) -> _Snap:
        """cdr_object_pick_party_a(): a dialled channel is never Party A; else the older."""
        left_dialed, right_dialed = left.uniqueid in self._dialed, right.uniqueid in self._dialed
        if left_dialed != right_dialed:
            return right if left_dialed else left
        return left if left.created <= right.created else right

    def _on_bridge_leave(self, message: AmiMessage, now: datetime) -> None:
        snap = self._snapshot(message)
        if snap is None:
            return
        bridge = message.get("BridgeUniqueid")
        members = self._bridges.get(bridge, [])
        if snap.uniqueid in members:
            members.remove(snap.uniqueid)
        for cdr in self._chains[snap.uniqueid]:
            if cdr.state is _State.BRIDGE and cdr.bridge == bridge:
                self._finalize(cdr, now)
        for cdr in self._all_records():  # records whose Party B left end too
            party_b = cdr.party_b
            in_bridge = cdr.state is _State.BRIDGE and cdr.bridge == bridge
            if in_bridge and party_b and party_b.uniqueid == snap.uniqueid:
                self._finalize_times(cdr, now)

    # ------------------------------------------------------------ the end

    def _on_hangup(self, message: AmiMessage, now: datetime) -> list[CdrRecord]:
        snap = self._snapshot(message)
        if snap is None:
            return []
        snap = replace(snap, cause=message.get("Cause"))
        chain = self._chains.pop(snap.uniqueid)
        for cdr in chain:
            self._process_party_a(cdr, snap, now)
            self._finalize(cdr, now)
        records = [self._record(cdr) for cdr in chain if self._dispatched(cdr)]
        for cdr in self._all_records():  # records whose Party B this was end
            if cdr.party_b is not None and cdr.party_b.uniqueid == snap.uniqueid:
                if cdr.state in _LIVE_WITH_B:
                    cdr.party_b = snap
                    cdr.state = _State.FINALIZED
                self._finalize_times(cdr, now)
        self._forget(snap.uniqueid)
        return records

    def _forget(self, uniqueid: str) -> None:
        del self._channels[uniqueid]
        self._dialed.discard(uniqueid)
        self._dids.pop(uniqueid, None)
        for bridge, members in list(self._bridges.items()):
            if uniqueid in members:
                members.remove(uniqueid)
            if not members:
                del self._bridges[bridge]

    def _finalize(self, cdr: _Cdr, now: datetime) -> None:
        self._finalize_times(cdr, now)
        cdr.state = _State.FINALIZED

    def _finalize_times(self, cdr: _Cdr, now: datetime) -> None:
        """cdr_object_finalize(): the end time, and a disposition if none yet."""
        if cdr.end is not None:
            return
        cdr.end = now
        if cdr.disposition != _NULL:
            return
        party_b_cause = cdr.party_b.cause if cdr.party_b else ""
        if cdr.answer is not None:
            cdr.disposition = _ANSWERED
        elif _nonzero(cdr.party_a.cause) or _nonzero(party_b_cause):
            cause = cdr.party_a.cause if _nonzero(cdr.party_a.cause) else party_b_cause
            cdr.disposition = self._cause_disposition(cause)
        else:
            cdr.disposition = _FAILED

    def _cause_disposition(self, cause: str) -> int:
        """cdr_object_set_disposition(): from the Q.850 hangup cause."""
        if cause == "17":
            return _BUSY
        if cause == "34":
            return _CONGESTION if self.settings.congestion else _FAILED
        if cause in ("3", "20"):
            return _FAILED
        if cause in ("16", "19"):
            return _NOANSWER
        return _NULL

    def _dispatched(self, cdr: _Cdr) -> bool:
        """post_cdr() and cdr_object_create_public_records(): which records reach
        the backends."""
        if cdr.party_a.uniqueid in self._dialed and cdr.party_b is None:
            return False  # a dialled channel on its own
        unanswered = cdr.disposition < _ANSWERED and cdr.party_b is None
        return self.settings.unanswered or not unanswered

    def _record(self, cdr: _Cdr) -> CdrRecord:
        party_a, end = cdr.party_a, cdr.end or cdr.start
        return CdrRecord(
            start=cdr.start,
            answer=cdr.answer,
            end=end,
            src=_fit(party_a.cid_num),
            dst=_fit(cdr.exten),
            dcontext=_fit(cdr.context),
            clid=_fit(_callerid_merge(party_a.cid_name, party_a.cid_num)),
            channel=_fit(party_a.name),
            dstchannel=_fit(cdr.party_b.name if cdr.party_b else ""),
            lastapp=_fit(cdr.appl),
            lastdata=_fit(cdr.data),
            duration=int((end - cdr.start).total_seconds()),
            billsec=int((end - cdr.answer).total_seconds()) if cdr.answer else 0,
            disposition=_DISPOSITION_TEXT[cdr.disposition],
            uniqueid=party_a.uniqueid,
            linkedid=cdr.linkedid,
            sequence=cdr.sequence,
            did=self._dids.get(party_a.uniqueid, ""),
        )


def _known(value: str) -> str:
    """AMI shows an empty caller ID as <unknown>; the record holds it empty."""
    return "" if value == "<unknown>" else value


def _nonzero(cause: str) -> bool:
    return cause not in ("", "0")


def _cep_changed(old: _Snap, new: _Snap) -> bool:
    """snapshot_cep_changed(): a new application at a new place in the dialplan."""
    moved = (old.context, old.exten, old.priority) != (new.context, new.exten, new.priority)
    return new.appl != old.appl and not new.appl.lower().startswith("appdial") and moved


def _fit(text: str, size: int = _FIELD_BYTES) -> str:
    """ast_copy_string() into a fixed buffer: bytes, possibly mid-character."""
    return text.encode("utf-8")[: size - 1].decode("utf-8", errors="replace")


def _callerid_merge(name: str, number: str) -> str:
    """ast_callerid_merge() with ast_escape_quoted() (main/callerid.c, utils.c)."""
    escaped = bytearray()
    for byte in name.encode("utf-8"):
        plain = byte in b"\t\v !" or 0x23 <= byte <= 0x5B or 0x5D <= byte <= 0x7E or byte > 0x7F
        piece = bytes([byte]) if plain else b"\\" + bytes([byte])
        if len(escaped) + len(piece) > _NAME_BYTES - 1:
            break
        escaped += piece
    return '"' + escaped.decode("utf-8", errors="replace") + f'" <{number}>'


# ---------------------------------------------------------------- writing them


def records_from_ami(data: bytes, settings: CdrSettings = RECOMMENDED) -> list[CdrRecord]:
    """The records of every call in an AMI recording, timed as replay times it."""
    engine = CdrEngine(settings)
    clock = EvidenceClock()
    records: list[CdrRecord] = []
    for message in AmiFramer().feed(data):
        records.extend(engine.feed(message, clock.observe(message)))
    return records + engine.hang_up_all(clock.now)


def cdr_csv_line(values: Sequence[bytes | int | None]) -> bytes | None:
    """One Master.csv row as build_csv_record() writes it: bytes quoted with
    ``"`` doubled, numbers bare, an unset time as nothing. None when cdr_csv
    would drop it ("Unable to create CSV record in 1024 bytes")."""
    out = bytearray()
    for value in values:
        if value is None:
            out += b","
        elif isinstance(value, int):
            out += b"%d," % value
        else:
            out += b'"' + value.replace(b'"', b'""') + b'",'
    if len(out) >= _CSV_BUFFER - 5:
        return None
    return bytes(out[:-1]) + b"\n"


def csv_row(record: CdrRecord, settings: CdrSettings = RECOMMENDED) -> bytes | None:
    """The Master.csv row of ``record`` (with newcdrcolumns=yes)."""
    zone = settings.csv_zone

    def when(moment: datetime | None) -> bytes | None:
        return None if moment is None else moment.astimezone(zone).strftime(TIME_FORMAT).encode()

    def text(value: str) -> bytes:
        return value.encode("utf-8")

    values: list[bytes | int | None] = [
        b"", text(record.src), text(record.dst), text(record.dcontext), text(record.clid),
        text(record.channel), text(record.dstchannel), text(record.lastapp),
        text(record.lastdata), when(record.start), when(record.answer), when(record.end),
        record.duration, record.billsec, text(record.disposition), b"DOCUMENTATION",
    ]  # fmt: skip
    if settings.loguniqueid:
        values.append(text(record.uniqueid))
    if settings.loguserfield:
        values.append(b"")
    values += [b"", text(record.linkedid), record.sequence]
    return cdr_csv_line(values)


def append_csv(
    path: Path, records: Iterable[CdrRecord], settings: CdrSettings = RECOMMENDED
) -> None:
    """Append rows as cdr_csv does: open, write, close, per record."""
    for record in records:
        row = csv_row(record, settings)
        if row is not None:
            with path.open("ab") as file:
                file.write(row)


# ---------------------------------------------------------------- FreePBX's table

# asteriskcdrdb.cdr as FreePBX creates it (its cdr module adds did,
# recordingfile, cnum, cnam, outbound_cnum, outbound_cnam, dst_cnam).
FREEPBX_CDR_TABLE = """
CREATE TABLE `{table}` (
  `calldate` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  `clid` varchar(80) NOT NULL DEFAULT '',
  `src` varchar(80) NOT NULL DEFAULT '',
  `dst` varchar(80) NOT NULL DEFAULT '',
  `dcontext` varchar(80) NOT NULL DEFAULT '',
  `channel` varchar(80) NOT NULL DEFAULT '',
  `dstchannel` varchar(80) NOT NULL DEFAULT '',
  `lastapp` varchar(80) NOT NULL DEFAULT '',
  `lastdata` varchar(80) NOT NULL DEFAULT '',
  `duration` int(11) NOT NULL DEFAULT 0,
  `billsec` int(11) NOT NULL DEFAULT 0,
  `disposition` varchar(45) NOT NULL DEFAULT '',
  `amaflags` int(11) NOT NULL DEFAULT 0,
  `accountcode` varchar(20) NOT NULL DEFAULT '',
  `uniqueid` varchar(32) NOT NULL DEFAULT '',
  `userfield` varchar(255) NOT NULL DEFAULT '',
  `did` varchar(50) NOT NULL DEFAULT '',
  `recordingfile` varchar(255) NOT NULL DEFAULT '',
  `cnum` varchar(80) NOT NULL DEFAULT '',
  `cnam` varchar(80) NOT NULL DEFAULT '',
  `outbound_cnum` varchar(80) NOT NULL DEFAULT '',
  `outbound_cnam` varchar(80) NOT NULL DEFAULT '',
  `dst_cnam` varchar(80) NOT NULL DEFAULT '',
  `linkedid` varchar(32) NOT NULL DEFAULT '',
  `peeraccount` varchar(80) NOT NULL DEFAULT '',
  `sequence` int(11) NOT NULL DEFAULT 0,
  KEY `calldate` (`calldate`),
  KEY `dst` (`dst`),
  KEY `uniqueid` (`uniqueid`),
  KEY `did` (`did`)
) DEFAULT CHARSET=utf8mb4
"""
FREEPBX_INSERT = (
    "INSERT INTO `{table}` (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp,"
    " lastdata, duration, billsec, disposition, amaflags, uniqueid, did, cnum, cnam, linkedid,"
    " sequence) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
    " %s, %s)"
)


def freepbx_row(record: CdrRecord, zone: tzinfo) -> tuple[object, ...]:
    """The values of FREEPBX_INSERT for ``record``: calldate in the PBX's local
    time, as cdr_adaptive_odbc writes it; amaflags 3 is DOCUMENTATION."""
    calldate = record.start.astimezone(zone).replace(tzinfo=None)
    return (
        calldate, record.clid, record.src, record.dst, record.dcontext, record.channel,
        record.dstchannel, record.lastapp, record.lastdata, record.duration, record.billsec,
        record.disposition, 3, record.uniqueid, record.did, record.src, record.caller_name,
        record.linkedid, record.sequence,
    )  # fmt: skip


def insert_freepbx(
    connection: pymysql.Connection,
    records: Iterable[CdrRecord],
    zone: tzinfo,
    table: str = "cdr",
) -> None:
    """Write ``records`` into a FreePBX-shaped cdr table (FREEPBX_CDR_TABLE)."""
    with connection.cursor() as cursor:
        cursor.executemany(
            FREEPBX_INSERT.format(table=table), [freepbx_row(r, zone) for r in records]
        )
    connection.commit()
