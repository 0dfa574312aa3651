"""Owner alerts by email, delivered to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from bridge.alerts.worker import AlertWorker
from bridge.bus import Bus
from bridge.config import Channel
from bridge.core.texts import ReceivedText
from bridge.sim.mail import MailCatcher
from bridge.store import Store
from tests.support.alerts import config
from tests.support.alerts import html_part as _html
from tests.support.alerts import plain_part as _text
from tests.support.expected import CALLER
from tests.support.polling import until, until_true
from tests.support.store_values import decision

EMAIL: frozenset[Channel] = frozenset({"email"})
NONE: frozenset[Channel] = frozenset()


@pytest.fixture
async def smtp() -> AsyncIterator[MailCatcher]:
    double = MailCatcher()
    await double.start()
    yield double
    await double.stop()


async def running_worker(worker: AlertWorker) -> asyncio.Task[None]:
    return asyncio.create_task(worker.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_missed_call_and_reply_emails_form_one_conversation(
    smtp: MailCatcher, tmp_path: Path
) -> None:
    cfg = config(smtp.port, tmp_path / "t.db")
    async with await Store.open(cfg.store.path) as store:
        worker = AlertWorker(
            cfg, store, clock=lambda: datetime.now(UTC), poll_every=0.05, bus=Bus(), channels=EMAIL
        )
        task = await running_worker(worker)
        try:
            await store.record_decision(decision(), text_skip="texted-recently")
            await until(lambda: len(smtp.mailbox.messages) == 1)
            await store.store_incoming(
                ReceivedText(CALLER, "Need a roof repair quote", 1, datetime.now(UTC)), None
            )
            await until(lambda: len(smtp.mailbox.messages) == 2)

            async def both_sent() -> bool:
                return [a["state"] for a in await store.alerts(1)] == ["sent", "sent"]

            await until_true(both_sent)
        finally:
            await stop(task)
        first, second = smtp.mailbox.messages
        assert first["To"] == "mike@acme.example"  # the line's owner only
        assert first["Subject"] == "Missed call from (512) 555-9876 - not texted: texted-recently"
        assert first["Message-ID"] == "<textback.thread1@acme.example>"
        assert first["Auto-Submitted"] == "auto-generated"
        assert "Missed call from (512) 555-9876 on Main line" in _text(first)
        assert 'href="tel:+15125559876"' in _html(first)
        assert second["Subject"] == (
            "Missed call from (512) 555-9876 - replied: Need a roof repair quote"
        )
        assert second["In-Reply-To"] == second["References"] == first["Message-ID"]
        assert "The conversation so far:" in _text(second)
        assert "missed call" in _text(second)


async def test_smtp_down_then_up_loses_nothing(smtp: MailCatcher, tmp_path: Path) -> None:
    port = smtp.port
    await smtp.stop()
    cfg = config(port, tmp_path / "t.db")
    async with await Store.open(cfg.store.path) as store:
        worker = AlertWorker(
            cfg, store, clock=lambda: datetime.now(UTC), poll_every=0.02,
            retry_min=timedelta(milliseconds=20), retry_max=timedelta(milliseconds=100),
            bus=Bus(), channels=EMAIL,
        )  # fmt: skip
        task = await running_worker(worker)
        try:
            await store.record_decision(decision())
            await until(lambda: worker._smtp_down)
            (queued,) = await store.alerts()
            assert queued["state"] == "queued"
            assert queued["last_error"]
            await smtp.start(port)
            await until(lambda: len(smtp.mailbox.messages) == 1)

            async def marked_sent() -> bool:  # just after the server has the mail
                return [a["state"] for a in await store.alerts()] == ["sent"]

            await until_true(marked_sent)
        finally:
            await stop(task)


async def test_caller_text_cannot_inject_headers_or_html(smtp: MailCatcher, tmp_path: Path) -> None:
    cfg = config(smtp.port, tmp_path / "t.db")
    nasty = "hi\r\nBcc: evil@example.com\r\n\r\n<script>alert(1)</script>\x1b[2J\x07"
    async with await Store.open(cfg.store.path) as store:
        await store.record_decision(decision())
        await store.store_incoming(ReceivedText(CALLER, nasty, 1, datetime.now(UTC)), None)
        task = await running_worker(
            AlertWorker(cfg, store, clock=lambda: datetime.now(UTC), bus=Bus(), channels=EMAIL)
        )
        try:
            await until(lambda: len(smtp.mailbox.messages) == 2)
        finally:
            await stop(task)
    assert smtp.connections == 1  # both alerts were due at once: one SMTP session
    reply = smtp.mailbox.messages[1]
    assert reply["Bcc"] is None
    assert "\n" not in reply["Subject"]
    assert "evil@example.com" not in str(reply["To"])
    assert "<script>" not in _html(reply)
    assert "&lt;script&gt;" in _html(reply)
    # Terminal control (ESC, BEL) never reaches either body: owners read mail in terminals too.
    for body in (_text(reply), _html(reply)):
        assert "\x1b" not in body
        assert "\x07" not in body


async def test_without_smtp_nothing_is_emailed_and_nothing_piles_up(tmp_path: Path) -> None:
    cfg = config(1, tmp_path / "t.db").model_copy(update={"smtp": None})
    async with await Store.open(cfg.store.path) as store:
        await store.record_decision(decision())
        worker = AlertWorker(cfg, store, clock=lambda: datetime.now(UTC), bus=Bus(), channels=NONE)
        await worker._queue_new_alerts()
        assert await store.unalerted() == []
        assert await store.alerts() == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_alerts_go_over_starttls_or_tls_with_a_login(tmp_path: Path, security: str) -> None:
    ca = trustme.CA()  # the office's private CA, trusted through smtp.ca_file
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "office-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    mail = MailCatcher(
        ("textback@acme.example", "s3cret"), tls=server_context, implicit_tls=security == "tls"
    )
    await mail.start()
    cfg = config(mail.port, tmp_path / "t.db")
    assert cfg.smtp is not None
    smtp = cfg.smtp.model_copy(
        update={
            "security": security,
            "username": "textback@acme.example",
            "password": SecretStr("s3cret"),
            "ca_file": ca_file,
        }
    )
    cfg = cfg.model_copy(update={"smtp": smtp})
    try:
        async with await Store.open(cfg.store.path) as store:
            await store.record_decision(decision())
            worker = AlertWorker(
                cfg, store, clock=lambda: datetime.now(UTC), bus=Bus(), channels=EMAIL
            )
            await worker._queue_new_alerts()
            await worker._send_due()
            (alert,) = await store.alerts()
            assert alert["state"] == "sent", alert["last_error"]
            # Without the office CA the server's certificate is refused: nothing sent.
            untrusted = cfg.model_copy(update={"smtp": smtp.model_copy(update={"ca_file": None})})
            await store.record_decision(decision("another-call", caller="+15125550142"))
            refused = AlertWorker(
                untrusted, store, clock=lambda: datetime.now(UTC), bus=Bus(), channels=EMAIL
            )
            await refused._queue_new_alerts()
            await refused._send_due()
            second = (await store.alerts())[1]
            assert second["state"] == "queued"
            assert "certificate" in str(second["last_error"]).lower()
    finally:
        await mail.stop()
    assert mail.mailbox.encrypted == [True]
