"""The inbox's report page over a real socket (aiohttp's server and client) on
a store holding a known history: its figures and charts, a hostile line name
shown as text, the period switch, and an owner seeing only their own lines."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from bridge.web.server import CSP
from tests.support.report_history import HOSTILE_NAME, served_report

DEC_2 = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)  # noon in Chicago: 7 days back is Nov 26
SVG = re.compile(r"<svg .*?</svg>", re.DOTALL)


def figures(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]+)</td></tr>', page))


def ledger(page: str) -> dict[str, tuple[str, str]]:
    rows = re.findall(
        r'<tr data-stage="[^"]+"><th scope="row">([^<]+)</th><td>([^<]+)</td><td>([^<]+)</td>', page
    )
    return {stage: (leads, share) for stage, leads, share in rows}


def chart(page: str, name: str) -> str:
    found = re.search(rf'<figure id="chart-{name}".*?(<svg .*?</svg>)', page, re.DOTALL)
    assert found, f"no {name} chart"
    return found.group(1)


def tips(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # noqa: S314 -- our own page, parsed to read it
    rects = root.iter("{http://www.w3.org/2000/svg}rect")
    return [title for r in rects if (title := r.findtext("{http://www.w3.org/2000/svg}title"))]


async def test_an_admin_sees_the_reports_figures_and_four_charts(tmp_path: Path) -> None:
    async with served_report(tmp_path, DEC_2) as rig:
        await rig.login("ann")
        status, page = await rig.page("/report?period=30")
    assert status == 200
    shown = figures(page)
    assert shown["missed calls"] == "5 (4 leads)"
    assert shown["texted back"] == "3 (60%)"
    assert shown["replied"] == "2 (67%)"
    assert shown["handled by an owner"] == "1 (20%)"
    assert shown["recovered value"] == "$400 (1 x $400 average)"
    stages = ledger(page)
    assert stages["missed"] == ("4", "100%")  # the withheld call is no lead
    assert stages["texted back"] == ("3", "75%")
    assert stages["replied"] == ("2", "50%")
    assert stages["won"] == ("0", "0%")
    assert len(SVG.findall(page)) == 4
    days = tips(chart(page, "days"))
    assert "Nov 25: Called back / handled 1" in days
    assert "Nov 25: Texted, replied 1" in days
    assert "Nov 26: Not texted 1" in days
    assert "Missed: 5" in tips(chart(page, "funnel"))
    assert "> 1 day: 1" in tips(chart(page, "waits"))  # called back the next day
    assert "Main line: Missed 3" in tips(chart(page, "lines"))
    assert 'id="report-scope"' not in page  # every line


async def test_a_hostile_line_name_is_shown_as_text(tmp_path: Path) -> None:
    async with served_report(tmp_path, DEC_2) as rig:
        await rig.login("ann")
        response = await rig.client.get("/report?period=all")
        page = await response.text()
    assert response.headers["Content-Security-Policy"] == CSP
    assert HOSTILE_NAME not in page
    assert "<script>alert" not in page
    assert f"{HOSTILE_NAME}: Missed 2" in tips(chart(page, "lines"))  # the text, unescaped once


async def test_the_period_switch_counts_only_the_chosen_days(tmp_path: Path) -> None:
    async with served_report(tmp_path, DEC_2) as rig:
        await rig.login("ann")
        _, month = await rig.page("/report?period=30")
        _, week = await rig.page("/report?period=7")
        _, default = await rig.page("/report")
        status, wrong = await rig.page("/report?period=365")
    assert figures(month)["missed calls"] == "5 (4 leads)"
    assert figures(week)["missed calls"] == "1 (1 lead)"  # Nov 26 on: the unsent one
    assert "since Thu Nov 26" in week
    current = 'id="period-7" class="filter current" href="/report?period=7" aria-current="page"'
    assert current in week
    assert figures(default) == figures(month)
    assert "Nov 25" not in " ".join(tips(chart(week, "days")))
    assert status == 400
    assert "unknown period '365': pick one of 7, 30, 90, all" in wrong


async def test_an_owner_sees_only_their_own_lines(tmp_path: Path) -> None:
    async with served_report(tmp_path, DEC_2) as rig:
        await rig.login("mike")
        _, mike = await rig.page("/report?period=30")
        rig.client.session.cookie_jar.clear()
        await rig.login("sam")
        _, sam = await rig.page("/report?period=30")
    assert figures(mike)["missed calls"] == "3 (2 leads)"  # the withheld one is no lead
    assert figures(mike)["handled by an owner"] == "1 (33%)"
    assert ledger(mike)["texted back"] == ("2", "100%")  # his lines' leads only
    assert "Your lines only" in mike
    assert "alert(" not in mike  # the second line's name is nowhere on Mike's page
    assert [t for t in tips(chart(mike, "lines")) if "Missed" in t] == ["Main line: Missed 3"]
    assert figures(sam)["missed calls"] == "2 (2 leads)"
    assert ledger(sam)["texted back"] == ("1", "50%")
    assert "Main line" not in sam
    assert "Nov 25: Called back / handled 1" not in tips(chart(sam, "days"))
