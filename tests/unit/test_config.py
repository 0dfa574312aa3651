"""Config files: what loads, and the exact message for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, load_config
from bridge.core import templates
from tests.support.example_config import EXAMPLE_CONFIG

GOOD = """\
business: {name: Acme Roofing, timezone: America/Chicago, region: US}
ami: {host: 127.0.0.1, port: 5038, username: textback, secret: "${AMI_SECRET}"}
pbx:
  inbound_contexts: [from-trunk, from-pstn, from-did-direct]
  internal_contexts: [from-internal]
lines:
  - {did: "+15125550100", name: Main line, owners: [mike]}
owners:
  - {id: mike, name: Mike, email: mike@acme.example, mobile: "+15125550199"}
store: {path: /var/lib/textback/textback.db}
"""
ENV = {"AMI_SECRET": "from-the-environment", "SMTP_PASSWORD": "smtp-secret"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "textback.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV if env is None else env)
    prefix = f"{path}:"
    assert all(p.startswith(prefix) for p in caught.value.problems)
    return [p[len(str(path)) + 1 :] for p in caught.value.problems]


def test_the_issue_example_loads_and_substitutes_the_secret(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), ENV)
    assert config.ami.secret.get_secret_value() == "from-the-environment"
    assert "from-the-environment" not in repr(config)
    assert config.lines[0].did == "+15125550100"
    assert config.owners[0].mobile == "+15125550199"
    assert config.pbx.internal_contexts == ("from-internal",)


def test_the_shipped_example_is_valid() -> None:
    config = load_config(EXAMPLE_CONFIG, ENV)
    assert config.business.name == "Acme Roofing"


def test_numbers_are_normalised_to_e164(tmp_path: Path) -> None:
    for form in ("5125550100", "15125550100", "(512) 555-0100", "+1 512 555 0100"):
        text = GOOD.replace('did: "+15125550100"', f'did: "{form}"')
        assert load_config(write(tmp_path, text), ENV).lines[0].did == "+15125550100"


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), ENV)
    with pytest.raises(ValueError, match="frozen"):
        config.ami.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("port: 5038", "port: abc"), "2: ami.port: expected an integer 1-65535, got 'abc'"),
        (("port: 5038", "port: 70000"), "2: ami.port: expected an integer 1-65535, got 70000"),
        (
            ("America/Chicago", "Mars/Olympus"),
            "1: business.timezone: expected an IANA time zone such as America/Chicago,"
            " got 'Mars/Olympus'",
        ),
        (
            ("region: US", "region: XX"),
            "1: business.region: expected a two-letter country code such as US, got 'XX'",
        ),
        (
            ('did: "+15125550100"', 'did: "call me"'),
            "7: lines[0].did: expected a phone number, got 'call me'",
        ),
        (("[mike]", "[bob]"), "7: lines[0].owners[0]: unknown owner 'bob' (owners defined: mike)"),
        (
            ("username: textback", "usrname: textback"),
            "2: ami.username: required key is missing\n"
            "2: ami.usrname: unknown key (did you mean 'username'?)",
        ),
        (("username: textback, ", ""), "2: ami.username: required key is missing"),
        (("store: {path", "stor: {path"), "10: stor: unknown key (did you mean 'store'?)"),
        (
            ("internal_contexts: [from-internal]", "internal_contexts: from-internal"),
            "5: pbx.internal_contexts: input should be a valid tuple, got 'from-internal'",
        ),
    ],
)
def test_each_mistake_names_line_and_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    assert problems(tmp_path, GOOD.replace(old, new, 1)) == message.split("\n")


def test_missing_environment_variable(tmp_path: Path) -> None:
    assert problems(tmp_path, GOOD, env={}) == [
        "2: ami.secret: environment variable AMI_SECRET is not set"
    ]


def test_repeated_key(tmp_path: Path) -> None:
    text = GOOD + "store: {path: /tmp/other.db}\n"
    assert problems(tmp_path, text) == ["11: store: key repeated (first on line 10)"]


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = GOOD.replace("port: 5038", "port: abc").replace("region: US", "region: XX")
    assert problems(tmp_path, text) == [
        "1: business.region: expected a two-letter country code such as US, got 'XX'",
        "2: ami.port: expected an integer 1-65535, got 'abc'",
    ]


def test_broken_yaml(tmp_path: Path) -> None:
    (only,) = problems(tmp_path, "business: [unclosed\n")
    assert only.startswith("2: not valid YAML:")


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    with pytest.raises(ConfigError, match="the file is empty"):
        load_config(path, ENV)
    assert problems(tmp_path, "- just\n- a list\n") == ["1: expected a mapping of sections"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", ENV)


def test_duplicate_owner_and_line(tmp_path: Path) -> None:
    text = GOOD.replace(
        '  - {did: "+15125550100", name: Main line, owners: [mike]}\n',
        '  - {did: "+15125550100", name: Main line, owners: [mike]}\n'
        '  - {did: "5125550100", name: Same line}\n',
    )
    assert problems(tmp_path, text) == ["8: lines[1].did: line +15125550100 is listed twice"]


TEXTING = """\
texting:
  business_hours_template: "Hi, {owner} from {business} here. {greeting}"
"""


def test_unknown_template_placeholder_names_its_line(tmp_path: Path) -> None:
    assert problems(tmp_path, GOOD + TEXTING) == [
        "12: texting.business_hours_template: unknown placeholder {greeting};"
        " use {business}, {owner} or {line}"
    ]


def test_opening_hours_and_holidays(tmp_path: Path) -> None:
    text = GOOD.replace(
        "region: US}",
        'region: US, hours: {mon-fri: "07:00-18:00", sat: "08:00-12:00"}, holidays: [2026-12-25]}',
    )
    config = load_config(write(tmp_path, text), ENV)
    assert config.business.holidays[0].isoformat() == "2026-12-25"
    bad = GOOD.replace("region: US}", 'region: US, hours: {weekdays: "07:00-18:00"}}')
    assert problems(tmp_path, bad) == [
        "1: business.hours: 'weekdays' is not a day or range of days such as mon or mon-fri"
    ]


def test_texting_lists_are_normalised_numbers(tmp_path: Path) -> None:
    text = GOOD + 'texting: {blocklist: ["(512) 555-0142"], allowlist: []}\n'
    assert load_config(write(tmp_path, text), ENV).texting.blocklist == ("+15125550142",)


@pytest.mark.parametrize(
    ("field", "what"),
    [
        ("{business:>5000}", "a format spec"),
        ("{business:>999999999}", "a format spec"),
        ("{owner!r}", "a conversion"),
        ("{business.__class__}", "an attribute or index"),
        ("{line[0]}", "an attribute or index"),
    ],
)
def test_templates_allow_plain_placeholders_only(tmp_path: Path, field: str, what: str) -> None:
    text = GOOD + f'texting:\n  after_hours_template: "Hi from {field}"\n'
    assert problems(tmp_path, text) == [
        f"12: texting.after_hours_template: {field} has {what}: only plain placeholders"
        " are allowed ({business}, {owner}, {line})"
    ]


def test_filling_a_template_never_interprets_a_format_spec() -> None:
    # Config validation is the first guard; rendering is the second, so a spec
    # cannot pad a text to thousands of characters even if one got through.
    assert templates.render("{{x}} {business}", business="B", owner="O", line="L") == "{x} B"
    with pytest.raises(templates.NotPlainPlaceholder):
        templates.render("{business:>5000}", business="B", owner="O", line="L")


# ---------------------------------------------------------------- bad input, refused in time


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("Main line", "Main\x00line"), "7: a control character U+0000 (NUL): is this a text"
         " file?"),
        (("store:", "\x1astore:"), "10: a control character U+001A (Ctrl-Z): is this a text file?"),
        (
            ('"${AMI_SECRET}"', "!secret ami"),
            "2: ami.secret: the YAML tag !secret is not supported: write a plain value"
            " (${ENV_NAME} for secrets)",
        ),
        (
            ('"${AMI_SECRET}"', "!!python/object/apply:os.system [id]"),
            "2: ami.secret: the YAML tag !!python/object/apply:os.system is not supported:"
            " write a plain value (${ENV_NAME} for secrets)",
        ),
        (
            ("region: US}", "region: US, holidays: [2026-12-25, 2026-02-30]}"),
            "1: business.holidays[1]: input should be a valid date or datetime,"
            " day value is outside expected range, got '2026-02-30'",
        ),
        (
            ("{path: /var/lib/textback/textback.db}", '{path: ""}'),
            "10: store.path: expected a file path, got ''",
        ),
        (("store: {path", "<<: {x: 1}\nstore: {path"), "10: (top level): merge keys (<<) are"
         " not supported: write the keys out"),
        (("store: {path", "yes: 1\nstore: {path"), "10: (top level): the key 'yes' is not a"
         " name (quote it if it is meant)"),
    ],
)  # fmt: skip
def test_bad_bytes_tags_dates_and_paths_are_located_errors(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    assert problems(tmp_path, GOOD.replace(old, new, 1)) == [message]


def test_an_alias_bomb_is_refused_at_the_first_alias(tmp_path: Path) -> None:
    laughs = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    assert problems(tmp_path, "\n".join(laughs) + "\n" + GOOD) == [
        "2: YAML aliases (*name) are not supported: write the value out"
    ]


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, GOOD + "log: " + "[" * 5000 + "]" * 5000 + "\n") == [
        "11: nested more than 32 levels deep"
    ]


def test_a_file_over_1_mib_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "# padding\n" * 110_000)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    assert caught.value.problems == [f"{path}: larger than 1 MiB: is this the right file?"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("port: 5038,", "port: 5038, ping_interval: .inf,"),
            "2: ami.ping_interval: input should be a finite number, got '.inf'",
        ),
        (
            ("port: 5038,", "port: 5038, ping_timeout: .nan,"),
            "2: ami.ping_timeout: input should be a finite number, got '.nan'",
        ),
        (
            ("region: US}", "region: US, average_job_value: 1e400}"),
            "1: business.average_job_value: input should be a finite number, got '1e400'",
        ),
        (
            ("port: 5038,", "port: 5038, ping_interval: 1e9,"),
            "2: ami.ping_interval: input should be less than or equal to 86400, got '1e9'",
        ),
        (
            ("port: 5038,", "port: 5038, reconnect_min: 90, reconnect_max: 60,"),
            "2: ami.reconnect_min: 90 s is more than reconnect_max (60 s)",
        ),
        (
            ("port: 5038,", "port: " + "9" * 5000 + ","),
            "2: ami.port: 99999999999999999999... is not a number a setting can take",
        ),
        (
            ("username: textback", 'username: ""'),
            "2: ami.username: is empty (set to nothing here or in secrets.env?)",
        ),
        (
            ("username: textback", 'username: "text\\nback"'),
            "2: ami.username: contains a control character (U+000A): remove it",
        ),
        (
            ('"${AMI_SECRET}"', "123456"),
            "2: ami.secret: must be text: put it in quotes (a number loses leading zeros)",
        ),
    ],
)
def test_nonsense_values_are_refused(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in GOOD
    assert problems(tmp_path, GOOD.replace(old, new, 1)) == [message]


WINDOWS_LINE_END = (
    "2: ami.secret: ends in a carriage return (\\r): a secrets.env saved with Windows line"
    " ends? Save it with Unix line ends (dos2unix /etc/textback/secrets.env)"
)


def test_a_secret_from_a_crlf_secrets_env_is_refused_and_never_shown(tmp_path: Path) -> None:
    env = {**ENV, "AMI_SECRET": "from-the-environment\r"}
    assert problems(tmp_path, GOOD, env=env) == [WINDOWS_LINE_END]
    empty = problems(tmp_path, GOOD, env={**ENV, "AMI_SECRET": ""})
    assert empty == ["2: ami.secret: is empty (set to nothing here or in secrets.env?)"]


REAL = GOOD.replace("Acme Roofing", "Hill Country Roofing").replace("acme.example", "hcroof.com")
REAL = REAL.replace("5125550100", "5127420100").replace("5125550199", "5127421234")


def example_values(tmp_path: Path, text: str) -> list[str]:
    from bridge.config import load_checked

    path = write(tmp_path, text)
    return [v[len(str(path)) + 1 :] for v in load_checked(path, ENV).example_values]


def test_a_real_config_has_no_example_values(tmp_path: Path) -> None:
    assert example_values(tmp_path, REAL) == []
    assert load_config(write(tmp_path, REAL), ENV).lab is False


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (("Hill Country Roofing", "acme roofing"), "1: business.name: 'Acme Roofing' is the"
         " example's name"),
        (("5127420100", "2125550142"), "7: lines[0].did: +12125550142 is a fictional number"
         " (555-0100 to 555-0199)"),
        (("mike@hcroof.com", "mike@example.com"), "9: owners[0].email: mike@example.com is in a"
         " reserved example domain (example.com)"),
        (("mike@hcroof.com", "mike@mail.Office.INVALID"), "9: owners[0].email:"
         " mike@mail.Office.INVALID is in a reserved example domain (.invalid)"),
        (("store:", 'sip: {endpoint: trunk, host: "sip.provider.example:5060"}\nstore:'),
         "10: sip.host: sip.provider.example:5060 is in a reserved example domain (.example)"),
    ],
)  # fmt: skip
def test_example_values_are_found_with_their_line(
    tmp_path: Path, change: tuple[str, str], found: str
) -> None:
    old, new = change
    assert old in REAL
    assert example_values(tmp_path, REAL.replace(old, new, 1)) == [found]


def test_numbers_beside_the_fictional_range_are_real(tmp_path: Path) -> None:
    for number in ("5125550099", "5125550200", "5125559876"):
        assert example_values(tmp_path, REAL.replace("5127420100", number)) == []


def test_control_characters_spelled_as_yaml_escapes_never_reach_a_text(tmp_path: Path) -> None:
    """'\\a' in a double-quoted YAML string is a BEL: it would reach every caller."""
    text = EXAMPLE_CONFIG.read_text().replace(
        'footer: "Reply STOP to opt out."', 'footer: "Reply STOP to opt out.\\a"'
    )
    path = tmp_path / "textback.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENV)
    (problem,) = caught.value.problems
    assert problem.endswith("texting.footer: contains a control character (U+0007): remove it"), (
        problem
    )
