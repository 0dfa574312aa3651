"""The owner inbox over a real socket (aiohttp's server and client) on a real
store: logging in and its throttle, CSRF, escaping, what each form does to the
thread and the outbox, who sees which line, the live stream, the headers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bridge.core.events import OwnerActed, ReplyStored, TextQueued
from bridge.web.server import CSP
from sms_gateway.base import TransportStatus
from tests.support.store_values import CALLER, OTHER, SECOND_LINE, a_text, decision, received
from tests.support.web import PASSWORD, WebRig, served_inbox, token

HOSTILE_NAME = "<script>alert('name')</script>"
HOSTILE_REPLY = '<img src=x onerror="alert(1)"> & "quotes"'


async def a_lead(rig: WebRig, *, caller: str = CALLER, line: str | None = None) -> int:
    """A missed call texted back, and the caller's reply."""
    line_fields = {"line": line, "line_name": "Second line"} if line else {}
    await rig.store.record_decision(
        decision(f"call-{caller}", caller=caller, caller_raw=caller, **line_fields),
        text=a_text(caller),
    )
    filed = await rig.store.store_incoming(received("Can you come today?", caller), None)
    assert filed is not None
    assert filed.thread_id is not None
    return filed.thread_id


@pytest.fixture
async def rig(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with served_inbox(tmp_path) as served:
        yield served


# ------------------------------------------------------------ logging in


async def test_pages_need_a_login_and_a_right_password_gives_one(rig: WebRig) -> None:
    response = await rig.client.get("/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/login")
    assert await rig.login(password="wrong password") == 401
    assert await rig.login() == 303
    page = await (await rig.client.get("/")).text()
    assert 'id="who" class="who">Mike<' in page
    assert 'id="nav-report" href="/report"' in page


async def test_logging_out_ends_the_session_even_for_a_kept_cookie(rig: WebRig) -> None:
    await rig.login()
    kept = {c.key: c.value for c in rig.client.session.cookie_jar}
    assert (await rig.post("/logout")).status == 303
    response = await rig.client.get("/", cookies=kept, allow_redirects=False)
    assert response.status == 303


async def test_five_wrong_passwords_for_an_owner_are_throttled(rig: WebRig) -> None:
    statuses = [await rig.login(password=f"wrong {n}") for n in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    form = await (await rig.client.get("/login")).text()
    response = await rig.client.post(
        "/login", data={"owner": "mike", "password": PASSWORD, "csrf_token": token(form)}
    )
    assert response.status == 429  # even the right one, until the window has passed
    assert 1 <= int(response.headers["Retry-After"]) <= 15 * 60
    rig.clock.advance(minutes=16)
    assert await rig.login() == 303


async def test_five_wrong_passwords_from_one_address_are_throttled(rig: WebRig) -> None:
    owners = ["mike", "sam", "ana", "nobody", "mike"]
    assert [await rig.login(o, "wrong") for o in owners] == [401, 401, 401, 401, 429]
    assert await rig.login("sam") == 429


# ------------------------------------------------------------ CSRF


async def test_a_post_without_its_token_or_with_a_wrong_one_is_refused(rig: WebRig) -> None:
    thread = await a_lead(rig)
    await rig.login()
    for fields in ({"body": "no token"}, {"body": "wrong", "csrf_token": "forged"}):
        response = await rig.client.post(f"/threads/{thread}/note", data=fields)
        assert response.status == 403
    found = await rig.store.thread(thread)
    assert found is not None
    assert [e for e in found[1] if e.kind == "note"] == []
    assert (await rig.client.post("/login", data={"owner": "mike", "password": "x"})).status == 403


# ------------------------------------------------------------ escaping


async def test_a_hostile_name_and_reply_are_shown_as_text(rig: WebRig) -> None:
    await rig.store.record_decision(decision("hostile", caller_name=HOSTILE_NAME), text=a_text())
    filed = await rig.store.store_incoming(received(HOSTILE_REPLY), None)
    assert filed is not None
    await rig.login()
    for path in ("/", f"/threads/{filed.thread_id}", "/inbox/rows"):
        page = await (await rig.client.get(path)).text()
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        if path != f"/threads/{filed.thread_id}":
            assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &#34;quotes&#34;" in page


# ------------------------------------------------------------ the thread's forms


async def test_an_answer_is_queued_through_the_outbox_as_an_sms_answer(rig: WebRig) -> None:
    thread = await a_lead(rig)
    await rig.login()
    response = await rig.post(f"/threads/{thread}/reply", body="On my way\r\nat 3pm\x07")
    assert (response.status, response.headers["Location"]) == (303, f"/threads/{thread}")
    (answer,) = [row for row in await rig.store.outbox() if row["kind"] == "reply"]
    assert (answer["to_number"], answer["body"], answer["state"], answer["thread_id"]) == (
        CALLER, "On my way\nat 3pm", "queued", thread,
    )  # fmt: skip
    summary = await rig.store.thread_summary(thread)
    assert summary is not None
    assert summary.status == "awaiting_reply"
    assert TextQueued("reply") in rig.heard
    assert OwnerActed(thread, "mike", "reply") in rig.heard


async def test_no_answer_to_a_caller_who_opted_out(rig: WebRig) -> None:
    thread = await a_lead(rig)
    await rig.store.store_incoming(received("STOP"), "stop")
    await rig.login()
    response = await rig.post(f"/threads/{thread}/reply", body="Are you sure?")
    assert response.status == 409
    assert "opted out" in await response.text()
    assert [row for row in await rig.store.outbox() if row["kind"] == "reply"] == []


async def test_a_note_is_shown_and_never_texted(rig: WebRig) -> None:
    thread = await a_lead(rig)
    await rig.login()
    before = len(await rig.store.outbox())
    assert (await rig.post(f"/threads/{thread}/note", body="Gate code 4417")).status == 303
    assert len(await rig.store.outbox()) == before
    page = await (await rig.client.get(f"/threads/{thread}")).text()
    assert "Gate code 4417" in page
    assert "note by mike" in page


async def test_assign_then_handled_change_the_thread(rig: WebRig) -> None:
    thread = await a_lead(rig)
    await rig.login()
    assert (await rig.post(f"/threads/{thread}/assign", assignee="sam")).status == 303
    row = await rig.store.inbox_row(thread)
    assert row is not None
    assert row.assigned_to == "sam"
    assert (await rig.post(f"/threads/{thread}/assign", assignee="stranger")).status == 400
    assert (await rig.post(f"/threads/{thread}/handled", how="called")).status == 303
    summary = await rig.store.thread_summary(thread)
    assert summary is not None
    assert summary.status == "handled"
    page = await (await rig.client.get("/?state=handled")).text()
    assert f'id="thread-row-{thread}"' in page
    assert "called back" in page


async def test_the_part_count_follows_the_text_and_marks_the_owner_typing(rig: WebRig) -> None:
    thread = await a_lead(rig)
    await rig.login()
    response = await rig.post(f"/threads/{thread}/parts", body="x" * 161)
    assert 'data-parts="2"' in await response.text()
    response = await rig.post(f"/threads/{thread}/parts", body="caf\u00e9 \U0001f44d")
    assert "1 text (UCS-2)" in await response.text()
    await rig.login("ana")
    presence = await (await rig.client.get(f"/threads/{thread}/presence")).text()
    assert "Mike is typing" in presence


async def test_canned_replies_are_filled_and_the_call_button_needs_click_to_call(
    tmp_path: Path,
) -> None:
    async def ring(thread_id: int, owner_id: str) -> str:
        return f"ringing {owner_id}'s desk for #{thread_id}"

    async with served_inbox(tmp_path, call_back=ring) as rig:
        thread = await a_lead(rig)
        await rig.login()
        page = await (await rig.client.get(f"/threads/{thread}")).text()
        assert 'data-canned-text="{owner} of {business}"' in page  # no fill handed in here
        assert 'id="call-button"' in page
        assert f'href="tel:{CALLER}"' in page
        said = await (await rig.post(f"/threads/{thread}/call")).text()
        assert f"ringing mike&#39;s desk for #{thread}" in said
    async with served_inbox(tmp_path / "plain") as rig:
        thread = await a_lead(rig)
        await rig.login()
        assert 'id="call-button"' not in await (await rig.client.get(f"/threads/{thread}")).text()
        assert (await rig.post(f"/threads/{thread}/call")).status == 404


# ------------------------------------------------------------ who sees what


async def test_owners_see_only_their_lines_and_an_admin_sees_all(rig: WebRig) -> None:
    mine = await a_lead(rig)
    sams = await a_lead(rig, caller=OTHER, line=SECOND_LINE)
    await rig.login("sam")
    listing = await (await rig.client.get("/")).text()
    assert f'id="thread-row-{sams}"' in listing
    assert f'id="thread-row-{mine}"' not in listing
    assert (await rig.client.get(f"/threads/{mine}")).status == 404
    peek = {"body": "peek", "csrf_token": await rig.token("/")}
    assert (await rig.client.post(f"/threads/{mine}/note", data=peek)).status == 404
    await rig.login("ana")
    listing = await (await rig.client.get("/")).text()
    assert f'id="thread-row-{sams}"' in listing
    assert f'id="thread-row-{mine}"' in listing


# ------------------------------------------------------------ live


async def next_event(response: object) -> tuple[str, dict[str, object]]:
    """The next event on an SSE stream (comments and retry lines skipped)."""
    name = ""
    content = response.content  # type: ignore[attr-defined]
    while True:
        line = (await content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name:
            return name, json.loads(line[6:])


async def test_the_stream_carries_bus_events_for_the_owners_lines(rig: WebRig) -> None:
    mine = await a_lead(rig)
    sams = await a_lead(rig, caller=OTHER, line=SECOND_LINE)
    await rig.login("sam")
    response = await rig.client.get("/events")
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["Content-Security-Policy"] == CSP
    rig.bus.publish(ReplyStored(mine, urgent=False))  # Mike's line: not Sam's to see
    rig.bus.publish(ReplyStored(sams, urgent=False))
    async with asyncio.timeout(5):
        assert await next_event(response) == ("change", {"kind": "reply", "new": True,
                                                         "thread": sams})  # fmt: skip
    response.close()


async def test_a_second_viewer_is_shown_live(rig: WebRig) -> None:
    thread = await a_lead(rig)
    await rig.login("mike")
    response = await rig.client.get(f"/events?thread={thread}")
    async with asyncio.timeout(5):
        assert await next_event(response) == ("presence", {"thread": thread})
    presence = await (await rig.client.get(f"/threads/{thread}/presence")).text()
    assert "is viewing" not in presence  # one's own visit is not news to oneself
    await rig.login("ana")
    presence = await (await rig.client.get(f"/threads/{thread}/presence")).text()
    assert "Mike is viewing" in presence
    response.close()


# ------------------------------------------------------------ headers and health


async def test_every_answer_carries_the_security_headers(rig: WebRig) -> None:
    await rig.login()
    for path in ("/login", "/", "/static/htmx.min.js", "/threads/999", "/health-strip"):
        response = await rig.client.get(path, allow_redirects=False)
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
    cookie = (await rig.client.get("/login")).headers.getall("Set-Cookie")
    assert all("HttpOnly" in c and "SameSite=Strict" in c for c in cookie)


async def test_no_page_has_inline_script_or_style(rig: WebRig) -> None:
    thread = await a_lead(rig)
    await rig.login()
    for path in ("/login", "/", f"/threads/{thread}"):
        page = await (await rig.client.get(path)).text()
        assert "<script>" not in page
        assert "<script src=" in page or path == "/login"
        assert " style=" not in page
        assert "<style" not in page
        assert " on" not in page.replace(" onerror=", "").split("<body")[1].split(">")[0]


async def test_the_health_strip_shows_the_modem_and_the_backlog(tmp_path: Path) -> None:
    modem = TransportStatus("modem", connected=True, signal=21, operator="T-Mobile")
    sip = TransportStatus("sip", connected=False, detail="AMI down")
    async with served_inbox(tmp_path, transports=(modem, sip)) as rig:
        await rig.store.record_decision(decision("queued"), text=a_text())
        await rig.login()
        strip = await (await rig.client.get("/health-strip")).text()
        assert "modem: connected, signal 21/31, T-Mobile" in strip
        assert "sip: down (AMI down)" in strip
        assert 'data-queued="1"' in strip
        assert "PBX link: connected" in strip
