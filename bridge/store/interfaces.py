"""What each part of the bridge needs from the store, named by who needs it.

A consumer is typed with its own interface only, so it can use nothing else
and a second backend knows exactly what to provide. Every interface's
behaviour is asserted by tests/contract/, run over each implementation.
Operations that change several things at once (a decision with its thread
and text, a text with its STOP, an owner's action) are single methods: an
implementation commits each whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Protocol

from bridge.core.alerts import AlertDraft, AlertEvent, CarriedAlert, QueuedAlert
from bridge.core.breakdown import ReportBreakdown
from bridge.core.callbacks import ThreadLink
from bridge.core.calls import CallDecision, OpenCall
from bridge.core.inbox import InboxPage, InboxQuery, InboxRow
from bridge.core.ledger import LeadState, LeadStep, Transition
from bridge.core.recording import Plan, Recorded
from bridge.core.retention import Pruned
from bridge.core.texts import (
    Backlog,
    Cap,
    Filed,
    History,
    OptOutChange,
    OutgoingText,
    OwnerAction,
    QueuedText,
    ReceivedText,
)
from bridge.core.threads import (
    DueTimers,
    FollowUpState,
    ReportFigures,
    StoredCall,
    ThreadEvent,
    ThreadSummary,
)


class RecorderStore(Protocol):
    """bridge.detection.recorder: decisions and calls in progress, in order."""

    async def text_history(self, number: str, now: datetime) -> History:
        """Opt-out, last text-back, and text-backs in the last hour and the last
        minute, for the texting policy."""
        ...

    async def record_decision(
        self,
        decision: CallDecision,
        *,
        dry_run: bool = False,
        text_skip: str | None = None,
        text: OutgoingText | None = None,
        link: ThreadLink | None = None,
    ) -> bool:
        """The decision, its lead's thread and its text-back (or why not), all or
        nothing; the call is no longer open. ``link`` (a call-back, the caller
        reached): the call joins its number's newest open thread, if one is
        open, noted - and CALLED or REACHED closes that thread as handled.
        False, and nothing stored, if this Linkedid was decided before: a call
        is stored once, however reported."""
        ...

    async def save_open_calls(self, calls: Sequence[OpenCall]) -> None:
        """The latest state of each call in progress, all of them or none."""
        ...

    async def record_in_order(
        self,
        items: Sequence[OpenCall | CallDecision],
        plan: Plan,
        now: datetime,
        *,
        dry_run: bool = False,
    ) -> list[Recorded]:
        """Calls in progress and decisions, in their order, all committed at
        once (or none): what save_open_calls and record_decision would store
        one by one, each decision planned by ``plan`` from its number's
        history (as text_history reads it at ``now``) with the decisions
        before it in ``items`` counted. ``plan`` runs inside the transaction.
        One Recorded per decision, in order."""
        ...


class IntakeStore(Protocol):
    """bridge.app for detection's intake: where the last run stopped."""

    async def open_calls(self) -> list[OpenCall]:
        """Calls in progress not decided yet, oldest first."""
        ...

    async def seen_until(self) -> datetime | None:
        """Until when every AMI event was seen (None: never)."""
        ...

    async def mark_seen(self, moment: datetime) -> None:
        """Every event up to ``moment`` was seen; the watermark never goes back."""
        ...


class OutboxStore(Protocol):
    """bridge.texting.outbox: each text's life, queued -> sending -> sent."""

    async def recover_interrupted(self) -> int:
        """After a crash: texts left sending are queued again, as maybe sent."""
        ...

    async def due_texts(self, now: datetime, limit: int = 20) -> list[QueuedText]:
        """Queued texts whose time has come: by kind in ``SEND_ORDER``
        (bridge.core.texts: text-backs first), then the longest waiting first;
        each says whether its number opted out (``QueuedText.opted_out``)."""
        ...

    async def owner_alerts_due(self, number: str, now: datetime) -> list[CarriedAlert]:
        """Owner SMS alerts to ``number`` that are due and were never handed to
        a transport (nothing of them went out), oldest first: what a batch may carry."""
        ...

    async def queue_batch(
        self, number: str, carried: Sequence[CarriedAlert], body: str, parts: int
    ) -> QueuedText | None:
        """One text to ``number`` carrying ``carried``: from now on they wait on
        it, and share its fate - sent with it (their alerts sent), or failed,
        expired or cancelled with it. None, nothing written, when one of them is
        no longer free to carry (sent, cancelled, or handed to a transport)."""
        ...

    async def held_slots(self, transport: str) -> frozenset[int]:
        """The slots ``transport`` keeps for texts not yet settled (queued or sending)."""
        ...

    async def is_opted_out(self, number: str) -> bool: ...

    async def mark_sending(self, text_id: int, transport: str, slots: Sequence[int] = ()) -> bool:
        """In ``transport``'s hands (kept in ``slots``), committed before the
        text can leave, so a crash leaves the trace to settle it there. False:
        no longer queued (cancelled meanwhile), so it must not go."""
        ...

    async def mark_sent(self, text_id: int, references: Sequence[int], at: datetime) -> None:
        """Sent with these part references; a new thread now awaits the reply,
        and an owner's SMS alert is sent with its text."""
        ...

    async def claim_batch(
        self, transport: str, slots: Mapping[int, Sequence[int]]
    ) -> frozenset[int]:
        """mark_sending for several texts (their ids, each with its slots) in
        one commit, before any of them can leave; the ids claimed (the others
        are no longer queued: they must not go)."""
        ...

    async def mark_batch_sent(self, references: Mapping[int, Sequence[int]], at: datetime) -> None:
        """mark_sent for several texts (their ids, each with its part
        references), in one commit."""
        ...

    async def mark_retry(
        self, text_id: int, error: str, next_attempt: datetime, *, maybe_sent: bool = False
    ) -> None:
        """Queued again for ``next_attempt``; ``maybe_sent`` once set stays set,
        and binds the text to the transport that had it (otherwise the binding
        and the slots go). An attempt that failed before ``mark_sending`` counts."""
        ...

    async def mark_final(self, text_id: int, state: str, error: str) -> None:
        """failed, expired or cancelled: never tried again (its alert fails too)."""
        ...


class InboundStore(Protocol):
    """bridge.conversations.inbound: texts in, owners' commands, delivery reports."""

    async def store_incoming(
        self,
        text: ReceivedText,
        keyword: str | None,
        *,
        urgent: bool = False,
        lead: bool = True,
        opt_out: OptOutChange | None = None,
    ) -> Filed | None:
        """A text in, filed in the sender's thread with its effect (STOP closes
        it, a reply reopens it), the opt-out and its one confirmation, all or
        nothing. None: a copy of a text already stored (same sender, network
        time and words); nothing is written."""
        ...

    async def store_owner_text(
        self, owner_id: str, text: ReceivedText, action: OwnerAction | None = None
    ) -> int | None:
        """An owner's command and its effect, together. None: a copy, ignored."""
        ...

    async def thread_summary(self, thread_id: int) -> ThreadSummary | None: ...

    async def is_opted_out(self, number: str) -> bool: ...

    async def record_delivery(self, reference: int, recipient: str, delivered: bool) -> int | None:
        """A part's delivery report; the text is delivered once every part is.
        The text's id, or None when no sent text has that reference."""
        ...

    async def queue_text(
        self, text: OutgoingText, *, thread_id: int | None = None, cap: Cap | None = None
    ) -> int | None:
        """The text's id, or None when ``cap`` held it back."""
        ...

    async def store_owner_step(
        self, owner_id: str, text: ReceivedText, step: LeadStep
    ) -> Transition | None:
        """An owner's BOOKED / WON / LOST text and its step, together: the step
        taken or not as bridge.core.ledger decides on the lead's state read in
        the same transaction, the thread handled as DONE makes it (an opted-out
        one stays so). None: a copy of a text already stored, or no such
        thread - nothing written."""
        ...


class ClickToCallStore(Protocol):
    """bridge.followup.click_to_call: the thread to call, and a word back to the owner."""

    async def thread_summary(self, thread_id: int) -> ThreadSummary | None: ...

    async def queue_text(
        self, text: OutgoingText, *, thread_id: int | None = None, cap: Cap | None = None
    ) -> int | None:
        """The text's id, or None when ``cap`` held it back."""
        ...


class AlertStore(Protocol):
    """bridge.alerts.worker: news for owners, queued once, sent by email."""

    async def unalerted(self) -> list[AlertEvent]:
        """Missed calls and replies no owner has been told about, oldest first."""
        ...

    async def thread(self, thread_id: int) -> tuple[ThreadSummary, list[ThreadEvent]] | None: ...

    async def queue_alerts(
        self, batch: Sequence[tuple[AlertEvent, Sequence[AlertDraft]]], domain: str
    ) -> list[int]:
        """Each event's alerts queued (an SMS one as a text too) and the events
        marked told, in one transaction. A thread's first email per recipient
        is its root; later ones reply to it."""
        ...

    async def due_alerts(self, now: datetime, channel: str) -> list[QueuedAlert]: ...

    async def mark_alert(
        self,
        alert_id: int,
        state: str,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """sent; queued again (with ``retry_at``); or failed."""
        ...


class FollowUpStore(Protocol):
    """bridge.followup.worker: reminders, cold threads, nudges and digests."""

    async def due_threads(self, due: DueTimers) -> list[FollowUpState]:
        """Open threads with a timer due as ``due`` says (read from an index of
        those moments: never every open thread), by id."""
        ...

    async def thread_summary(self, thread_id: int) -> ThreadSummary | None: ...

    async def is_opted_out(self, number: str) -> bool: ...

    async def remind(self, state: FollowUpState, drafts: Sequence[AlertDraft], domain: str) -> bool:
        """The wait's one reminder - only if the thread is still as ``state``
        saw it (else False, nothing written)."""
        ...

    async def mark_cold(self, state: FollowUpState) -> bool:
        """Cold, on the same condition as ``remind``."""
        ...

    async def nudge(self, state: FollowUpState, text: OutgoingText, *, cap: Cap) -> bool:
        """The thread's one nudge text, on the same condition, and within ``cap``."""
        ...

    async def digest_sent(self, owner_id: str, day: date) -> bool: ...

    async def digest_threads(
        self, since: datetime, until: datetime
    ) -> tuple[list[ThreadSummary], list[ThreadSummary]]:
        """Open threads, and threads handled between ``since`` and ``until``."""
        ...

    async def queue_digest(
        self, owner_id: str, day: date, draft: AlertDraft | None, domain: str
    ) -> bool:
        """Claim the owner's day and queue its digest: True once per day."""
        ...

    async def lead_states(self, thread_ids: Sequence[int]) -> dict[int, LeadState]:
        """The recovery ledger's state of each of these threads that has a step."""
        ...


class ReportStore(Protocol):
    """`textback report` (bridge.followup.report builds on the figures)."""

    async def report(self, since: datetime | None) -> ReportFigures: ...


class WebReportStore(ReportStore, Protocol):
    """The inbox's report page (bridge.web.report_page): the report, the
    report per line, and the missed calls of each local day by outcome, to
    draw and to filter to the lines an owner sees."""

    async def report_breakdown(
        self, since: datetime | None, until: datetime, zone: tzinfo
    ) -> ReportBreakdown:
        """Each line's report figures since ``since`` (None: all time), counted
        as ``report`` counts them; and each day in ``zone`` from since's day
        (or the first missed call's) to until's, its missed calls by what
        became of them (bridge.core.breakdown.OUTCOMES)."""
        ...


class HistoryStore(ReportStore, Protocol):
    """The CLI (bridge.cli.history): what the store holds, and `handled`."""

    async def recent_calls(self, limit: int = 50) -> list[StoredCall]:
        """Newest first, each with its text-back's state."""
        ...

    async def call(self, linkedid: str) -> StoredCall | None: ...

    async def threads(self, limit: int = 50, *, open_only: bool = False) -> list[ThreadSummary]:
        """Open threads first, then by newest activity."""
        ...

    async def thread(self, thread_id: int) -> tuple[ThreadSummary, list[ThreadEvent]] | None:
        """A thread and everything on it (calls, texts, alerts, owners' actions), oldest first."""
        ...

    async def thread_summary(self, thread_id: int) -> ThreadSummary | None: ...

    async def owner_action(self, owner_id: str, action: OwnerAction) -> None:
        """What an owner did from the office, with its effect on the thread."""
        ...

    async def lead_step(self, owner_id: str, step: LeadStep) -> Transition | None:
        """`textback booked|won|lost`: as ``store_owner_step``, without a text.
        None: no such thread."""
        ...


class RetentionStore(Protocol):
    """`textback store prune` and the daemon's daily prune (store.keep_days)."""

    async def prune(self, before: datetime, *, dry_run: bool = False) -> Pruned:
        """Blank the bodies of alerts and texts older than ``before`` that no
        running conversation needs, keeping every row the report counts;
        never an opt-out (nor the STOP/START/HELP texts). What was - or, with
        ``dry_run``, would be - blanked."""
        ...


class WebStore(WebReportStore, Protocol):
    """bridge.web, the owner inbox: listings, a thread, what owners do there,
    and their password hashes (`textback set-password` writes them)."""

    async def inbox_page(self, query: InboxQuery) -> InboxPage:
        """One page of threads, newest activity first: the view (open, urgent,
        handled), whose (all, mine, unassigned), on the owner's lines, matching
        the search (number, caller's name, any text) - read from indexes, a
        search from the view's newest SEARCH_WINDOW threads."""
        ...

    async def inbox_row(self, thread_id: int) -> InboxRow | None: ...

    async def thread(self, thread_id: int) -> tuple[ThreadSummary, list[ThreadEvent]] | None:
        """A thread and everything on it, notes too, oldest first."""
        ...

    async def thread_summary(self, thread_id: int) -> ThreadSummary | None: ...

    async def is_opted_out(self, number: str) -> bool: ...

    async def owner_action(self, owner_id: str, action: OwnerAction) -> None:
        """An answer to the caller queued, or the thread handled: exactly as an
        owner's SMS command does it."""
        ...

    async def add_note(self, thread_id: int, owner_id: str, body: str) -> bool:
        """A note for the office, never texted. False: no such thread."""
        ...

    async def assign(self, thread_id: int, assignee: str | None, by: str) -> bool:
        """The thread is ``assignee``'s (None: nobody's), noted. False: no such thread."""
        ...

    async def password_hash(self, owner_id: str) -> str | None: ...

    async def set_password_hash(self, owner_id: str, hashed: str) -> None: ...

    async def other_offices(self) -> list[str]:
        """The other offices sharing this database, by id, for an admin's office
        filter (docs/scale.md); none for a SQLite store, which is one office's."""
        ...

    async def office_view(self, office: str) -> WebStore:
        """Office ``office``'s threads, inbox and report, read only: its writes
        fail with ReadOnlyStore. The view belongs to this store, which closes
        it. StoreError: no such other office here."""
        ...


class OpsStore(Protocol):
    """The health strip and the metrics endpoint: how the outbox keeps up."""

    async def outbox_backlog(self, now: datetime) -> Backlog:
        """Texts waiting to go out and since when; texts given up on in the
        hour before ``now``, and the newest one's error. Read from indexes:
        cheap enough to ask on every scrape."""
        ...


class RecordsStore(Protocol):
    """Rows as the schema has them, every column: for tests and support, not
    for the bridge's own decisions."""

    async def outbox(self, limit: int = 100) -> list[dict[str, object]]:
        """Newest first."""
        ...

    async def inbox(self, limit: int = 100) -> list[dict[str, object]]:
        """Newest first."""
        ...

    async def alerts(self, thread_id: int | None = None) -> list[dict[str, object]]:
        """Oldest first."""
        ...

    async def open_threads(self) -> list[FollowUpState]:
        """Every open thread with what its timers run from, by id."""
        ...
