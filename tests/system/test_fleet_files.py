"""The files an MSP loads into its Prometheus and Grafana: the alert rules pass
promtool (Debian's prometheus package; .ci/run installs it) and their own unit
tests, and the dashboard is valid JSON asking only for metrics the bridge exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
import yaml

from tests.support.metrics import exported_sample_names
from tests.support.paths import ROOT

PROMETHEUS = ROOT / "config" / "prometheus"
DASHBOARD = ROOT / "config" / "grafana" / "textback-fleet.json"
PROMQL_WORDS = {"and", "or", "unless", "bool"}
PROMETHEUS_OWN = {"up"}  # the scrape's own series


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(
            "SKIPPED LOUDLY: promtool is not installed, so the alert rules are not checked "
            "(apt-get install prometheus, or run .ci/run, which installs it)"
        )
    return found


def metrics_in(expr: str) -> set[str]:
    """The series names a PromQL expression reads: what is left of it without
    label matchers, ranges, grouping labels and function calls."""
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*(?:\s*\()?", expr)
    return {w for w in words if not w.endswith("(") and w not in PROMQL_WORDS}


def test_the_alert_rules_pass_promtool_check() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(PROMETHEUS / "alerts.yml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_the_alert_rules_pass_their_own_unit_tests() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", "alerts_test.yml"],
        capture_output=True, text=True, check=False, cwd=PROMETHEUS,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_alerts_cover_what_the_issue_asks_for_and_read_only_exported_metrics() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"][0]["rules"]
    by_name = {rule["alert"]: rule for rule in rules}
    assert {
        "TextbackScrapeDown", "TextbackAmiDown", "TextbackNoSmsTransport",
        "TextbackBacklogGrowing", "TextbackTextsFailing", "TextbackStoreUnreachable",
    } <= set(by_name)  # fmt: skip
    assert by_name["TextbackAmiDown"]["for"] == "5m"
    exported = exported_sample_names() | PROMETHEUS_OWN
    for rule in rules:
        assert metrics_in(rule["expr"]) <= exported, rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")


def expressions(panels: list[dict[str, object]]) -> Iterator[tuple[str, str]]:
    for panel in panels:
        for target in panel.get("targets", []):  # type: ignore[attr-defined]
            yield str(panel["title"]), target["expr"]
        yield from expressions(panel.get("panels", []))  # type: ignore[arg-type]


def test_the_dashboard_is_json_and_queries_only_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = list(expressions(dashboard["panels"]))
    assert len(queries) >= 15
    exported = exported_sample_names() | PROMETHEUS_OWN
    used: set[str] = set()
    for title, expr in queries:
        found = metrics_in(expr)
        assert found, (title, expr)
        assert found <= exported, (title, found - exported)
        used |= found
    # Decisions, texts, backlog, latency, link and transport state are all on it.
    for name in (
        "textback_decisions_total", "textback_texts_total", "textback_outbox_queued",
        "textback_hangup_to_sent_seconds_bucket", "textback_ami_up", "textback_transport_up",
        "textback_transport_signal", "textback_store_up",
    ):  # fmt: skip
        assert name in used, name
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["office"]["query"]["query"] == "label_values(textback_info, office)"
    assert "textback_info" in exported


def test_each_office_gets_its_own_row_and_every_panel_filters_by_office() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    (row,) = [p for p in panels if p.get("repeat") == "office"]
    in_row = [p for p in panels if p["gridPos"]["y"] > row["gridPos"]["y"]]
    assert in_row
    for title, expr in expressions(in_row):
        assert 'office="$office"' in expr, title
    for title, expr in expressions(panels):
        assert "$office" in expr, title  # the fleet rows follow the office picker too


def test_the_example_scrape_config_in_the_docs_names_the_job_the_alerts_expect() -> None:
    docs = (ROOT / "docs" / "metrics.md").read_text()
    blocks = [part.split("```", 1)[0] for part in docs.split("```yaml\n")[1:]]
    (config,) = [yaml.safe_load(b) for b in blocks if b.startswith("scrape_configs:")]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "textback"
    assert all("office" in group["labels"] for group in job["static_configs"])
