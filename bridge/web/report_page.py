"""The report page (/report): `textback report`'s figures for a chosen period
and the charts of them (report_view.py), for the lines the owner sees - an
admin's figures are the report's own, every line's."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup

from bridge.web import office_filter
from bridge.web.pages import common, html
from bridge.web.report_view import (
    DEFAULT_PERIOD,
    PERIOD_NAMES,
    UnknownPeriod,
    build_view,
    period_start,
)
from bridge.web.state import inbox_of, lines_of


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/report", report_page)


async def report_page(request: web.Request) -> web.Response:
    inbox = inbox_of(request)
    config = inbox.config
    zone, now = ZoneInfo(config.business.timezone), inbox.deps.clock()
    period = request.query.get("period", DEFAULT_PERIOD)
    try:
        since = period_start(period, now, zone)
    except UnknownPeriod as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    store = (await office_filter.viewing(request)).store
    breakdown = await store.report_breakdown(since, now, zone)
    headline = await store.report(since)
    lines = lines_of(request)
    if lines is None:  # every line: the report's own figures
        view = build_view(config, period, since, breakdown, headline)
    else:  # calls on no known line are everyone's, as in the inbox
        mine = frozenset({*lines, None})
        view = build_view(config, period, since, breakdown.for_lines(mine), headline, mine)
    values = {
        "view": view,
        "periods": PERIOD_NAMES,
        # Escaped where drawn (bridge.web.charts): markup for the template.
        "charts": {name: Markup(svg) for name, svg in view.charts.items()},  # noqa: S704
    }
    return html(inbox.render("report.html", **await common(request, **values)))
