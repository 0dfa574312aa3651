"""The report page's SVG charts: well-formed, drawn to scale, nothing the CSP
refuses (no script, no style), and every caller-supplied string escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from bridge.web.charts import Series, funnel, grouped_bars, histogram, stacked_bars

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script>" onload="alert(2)\x1b[2J'


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 -- our own output, parsed to check it


def bars(svg: str) -> list[ET.Element]:
    return [r for r in parsed(svg).iter(f"{SVG}rect") if "bar" in r.get("class", "").split()]


def tips(svg: str) -> list[str]:
    return [r.findtext(f"{SVG}title", "") for r in bars(svg)]


def two_series(first: list[int], second: list[int]) -> list[Series]:
    return [
        Series("handled", "Handled", "#2e7d32", first),
        Series("texted", "Texted", "#f9a825", second),
    ]


def test_stacked_bars_stack_each_day_to_scale() -> None:
    svg = stacked_bars("Missed calls", ["Nov 25", "Nov 26"], two_series([1, 0], [3, 2]))
    drawn = bars(svg)
    assert tips(svg) == ["Nov 25: Handled 1", "Nov 25: Texted 3", "Nov 26: Texted 2"]
    handled, texted, second_day = (float(r.get("height", 0)) for r in drawn)
    assert texted == 3 * handled
    assert second_day == 2 * handled
    # The day's second series sits on its first.
    assert float(drawn[1].get("y", 0)) + texted == float(drawn[0].get("y", 0))
    assert [k.get("fill") for k in drawn] == ["#2e7d32", "#f9a825", "#f9a825"]


def test_no_more_than_six_day_labels_are_written() -> None:
    days = [f"Day {n}" for n in range(90)]
    svg = stacked_bars("Missed calls", days, two_series([1] * 90, [0] * 90))
    written = [
        t.text for t in parsed(svg).iter(f"{SVG}text") if t.text and t.text.startswith("Day")
    ]
    assert written[0] == "Day 0"
    assert 5 <= len(written) <= 6
    assert len(bars(svg)) == 90


def test_the_funnel_shows_each_step_as_a_share_of_the_first() -> None:
    svg = funnel("Funnel", [("Missed", 10), ("Texted", 8), ("Replied", 3), ("Handled", 0)])
    widths = [float(r.get("width", 0)) for r in bars(svg)]
    assert widths[1] == 0.8 * widths[0]
    assert widths[2] == 0.3 * widths[0]
    assert widths[3] == 0
    texts = [t.text for t in parsed(svg).iter(f"{SVG}text")]
    assert "8 (80%)" in texts
    assert "0 (0%)" in texts


def test_a_histogram_and_grouped_bars_are_to_scale() -> None:
    svg = histogram("Wait", [("< 5 min", 4), ("5-15 min", 2), ("> 1 day", 0)])
    assert [float(r.get("height", 0)) for r in bars(svg)][1] * 2 == float(
        bars(svg)[0].get("height", 0)
    )
    assert tips(svg) == ["< 5 min: 4", "5-15 min: 2"]
    lines = grouped_bars("By line", ["Main", "Service"], two_series([4, 1], [2, 0]))
    assert tips(lines) == ["Main: Handled 4", "Main: Texted 2", "Service: Handled 1"]
    assert float(bars(lines)[0].get("width", 0)) == 2 * float(bars(lines)[1].get("width", 0))


def test_nothing_to_draw_says_so() -> None:
    for svg in (
        stacked_bars("Missed calls", ["Nov 25"], two_series([0], [0])),
        stacked_bars("Missed calls", [], two_series([], [])),
        funnel("Funnel", [("Missed", 0), ("Texted", 0)]),
        histogram("Wait", [("< 5 min", 0)]),
        grouped_bars("By line", [], two_series([], [])),
    ):
        assert bars(svg) == []
        assert [t.get("class") for t in parsed(svg).iter(f"{SVG}text")] == ["empty"]


def test_a_hostile_line_name_is_text_and_nothing_the_csp_refuses_is_written() -> None:
    svg = grouped_bars(HOSTILE, [HOSTILE], [Series("m", HOSTILE, "#123456", [3])])
    assert "<script" not in svg
    assert "<style" not in svg
    assert "style=" not in svg
    assert 'onload="' not in svg
    assert "\x1b" not in svg
    root = parsed(svg)  # still well-formed: the name is text, not markup
    group = next(t for t in root.iter(f"{SVG}text") if t.get("class") == "group")
    assert group.text is not None
    assert group.text.startswith("<script>alert(1)</script>")
    assert all(not any(k.startswith("on") for k in el.attrib) for el in root.iter())


def test_a_colour_is_only_ever_a_hex_colour() -> None:
    svg = stacked_bars("x", ["a"], [Series("k", "K", 'red" onclick="x', [1])])
    assert [r.get("fill") for r in bars(svg)] == ["#888888"]


@given(
    st.lists(st.text(max_size=30), min_size=1, max_size=40),
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=40, max_size=40),
)
def test_any_labels_and_counts_make_well_formed_svg(labels: list[str], counts: list[int]) -> None:
    values = counts[: len(labels)]
    for svg in (
        stacked_bars("Missed calls", labels, [Series("a", labels[0], "#000000", values)]),
        grouped_bars("By line", labels, [Series("a", "A", "#000000", values)]),
        funnel("Funnel", list(zip(labels, values, strict=True))),
        histogram("Wait", list(zip(labels, values, strict=True))),
    ):
        root = parsed(svg)
        assert root.tag == f"{SVG}svg"
        heights = [float(r.get("height", 0)) for r in bars(svg)]
        assert all(0 <= h <= 240 for h in heights)
