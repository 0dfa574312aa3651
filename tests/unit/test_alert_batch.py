"""Owner alerts due together, worded as one text: bounded, and every alert
it carries is one the text shows."""

from __future__ import annotations

from bridge.alerts.batch import MAX_ITEMS, batch
from bridge.config import Config
from bridge.core import templates
from bridge.core.alerts import CarriedAlert

CONFIG = Config.model_validate(
    {
        "business": {"name": "Acme Roofing", "timezone": "America/Chicago"},
        "ami": {"username": "textback", "secret": "s3cret-enough"},
        "lines": [{"did": "+15125550100", "name": "Main line"}],
    },
    context={"region": "US"},
)


def alert(n: int, kind: str = "missed_call", subject: str = "Missed call") -> CarriedAlert:
    return CarriedAlert(
        100 + n, kind, 10 + n, f"+1512555{142 + n:04d}", subject,
        f"2026-11-25T20:{n:02d}:00+00:00", "+15125550100", "2026-11-26T20:00:00+00:00",
    )  # fmt: skip


def test_three_missed_calls_and_a_reply_read_as_one_text() -> None:
    reply = alert(3, "reply", "Missed call from (512) 555-0145 - replied: need a roof quote")
    found = batch(CONFIG, [alert(0), alert(1), alert(2), reply])
    assert found is not None
    assert found.body == (
        "textback: 3 missed calls, 1 reply: #10 (512) 555-0142 2:00 PM;"
        " #11 (512) 555-0143 2:01 PM; #12 (512) 555-0144 2:02 PM;"
        " #13 (512) 555-0145 replied 2:03 PM: need a roof quote."
        " Reply '10 your text' to text one, 'CALLED 10' when handled."
    )
    assert found.carried == (100, 101, 102, 103)


def test_a_batch_is_capped_and_says_how_many_follow() -> None:
    found = batch(CONFIG, [alert(n) for n in range(12)])
    assert found is not None
    assert len(found.carried) == MAX_ITEMS
    assert "+7 more to follow." in found.body
    assert found.parts == templates.sms_size(found.body).parts <= 3


def test_an_urgent_reply_is_never_batched_and_one_alert_is_no_batch() -> None:
    urgent = alert(0, "reply", "URGENT - Missed call from (512) 555-0142 - replied: burst pipe")
    assert batch(CONFIG, [urgent, alert(1)]) is None
    assert batch(CONFIG, [alert(1)]) is None
    found = batch(CONFIG, [urgent, alert(1), alert(2)])
    assert found is not None
    assert found.carried == (101, 102)
