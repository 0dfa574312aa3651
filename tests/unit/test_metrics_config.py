"""The ``metrics:`` section: off unless present, loopback by default, and each
mistake named by file, line and key."""

from __future__ import annotations

import pytest

from bridge.config import Config, ConfigError, MetricsConfig, parse_config
from tests.support.example_config import EXAMPLE_CONFIG

CONFIG = """\
business: {name: Acme Roofing, timezone: America/Chicago}
ami: {username: textback, secret: s}
lines: [{did: "+15125550100", name: Main line}]
"""


def config_with(section: str) -> Config:
    return parse_config(CONFIG + section, "textback.yaml", {})


def test_no_section_no_endpoint_and_an_empty_one_listens_on_loopback() -> None:
    assert config_with("").metrics is None
    metrics = config_with("metrics: {}\n").metrics
    assert metrics == MetricsConfig(host="127.0.0.1", port=9466)


def test_the_examples_metrics_section_loads_when_uncommented() -> None:
    text = EXAMPLE_CONFIG.read_text()
    start = text.index("# metrics:")
    end = text.find("\n\n", start)
    block = text[start : None if end < 0 else end]
    uncommented = "\n".join(line[2:] for line in block.splitlines())
    metrics = config_with(uncommented + "\n").metrics
    assert metrics == MetricsConfig()
    for field in MetricsConfig.model_fields:  # every key is shown, with a word on it
        assert f"#   {field}: " in block


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("metrics: {port: 0}\n", "4: metrics.port: expected an integer 1-65535, got 0"),
        ("metrics: {port: http}\n", "4: metrics.port: expected an integer 1-65535, got 'http'"),
        (
            "metrics:\n  host: 'my box'\n",
            "5: metrics.host: expected an IP address or host name such as 127.0.0.1, got 'my box'",
        ),
        ("metrics: {bind: 127.0.0.1}\n", "4: metrics.bind: unknown key (known keys: host, port)"),
    ],
)
def test_metrics_mistakes_are_located(section: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_with(section)
    assert caught.value.problems == [f"textback.yaml:{message}"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "::1", "10.8.0.2", "office-7.vpn.example", "localhost"]
)
def test_addresses_and_host_names_are_accepted(host: str) -> None:
    metrics = config_with(f"metrics: {{host: '{host}'}}\n").metrics
    assert metrics is not None
    assert metrics.host == host
