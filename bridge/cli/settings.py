"""`textback check-config`: a config validated and shown, secrets masked, texts
previewed."""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from bridge.cli.common import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    check_example_values,
    console,
    load_checked_config,
    main,
)
from bridge.cli.render import cell
from bridge.config import Config
from bridge.core import templates
from bridge.core.numbers import display
from bridge.texting import plan as textback


@main.command("check-config")
@click.argument(
    "config_path", metavar="[FILE]", required=False, default=DEFAULT_CONFIG, envvar=CONFIG_ENV
)
def check_config(config_path: str) -> None:
    """Validate a config file and show what it says (secrets masked)."""
    checked = load_checked_config(config_path)
    config = checked.config
    table = Table(title=f"{config_path}: OK", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    if config.lab:
        fictional = len(checked.example_values)
        table.add_row("lab", f"yes (lab: true): {fictional} fictional example value(s) allowed")
    b, ami, pbx = config.business, config.ami, config.pbx
    table.add_row("business", cell(f"{b.name} ({b.timezone}, numbers read as {b.region})"))
    table.add_row("AMI", f"{ami.username}@{ami.host}:{ami.port}, secret {ami.secret}")
    table.add_row("inbound contexts", ", ".join(pbx.inbound_contexts) or "-")
    table.add_row("internal contexts", ", ".join(pbx.internal_contexts) or "-")
    for line in config.lines:
        owners = ", ".join(line.owners) or "no owner"
        via = f", texts by {' then '.join(line.transports)}" if line.transports else ""
        table.add_row(
            "line",
            cell(f"{line.name}: {display(line.did, b.region)} ({line.did}) -> {owners}{via}"),
        )
    for owner in config.owners:
        reach = ", ".join(x for x in (owner.email, owner.mobile) if x) or "no contact"
        on_call = ", on call" if owner.on_call else ""
        table.add_row("owner", cell(f"{owner.id}: {owner.name} ({reach}){on_call}"))
    if config.modem:
        table.add_row("modem", cell(f"{config.modem.port} at {config.modem.baudrate} bps"))
    if config.sip:
        sip = config.sip
        table.add_row("sip", cell(f"MessageSend via pjsip:{sip.endpoint}, sip:<number>@{sip.host}"))
    if config.agi:
        agi = config.agi
        allowed = ", ".join(str(n) for n in agi.allow)
        table.add_row("fastagi", cell(f"{agi.host}:{agi.port}, answering {allowed}"))
    if config.smtp:
        smtp = config.smtp
        login = f"{smtp.username}, password {smtp.password}" if smtp.username else "no login"
        table.add_row("smtp", cell(f"{smtp.host}:{smtp.port} ({smtp.security}), {login}"))
    table.add_row("store", cell(config.store.shown))
    texting = config.texting
    table.add_row(
        "texting",
        "off"
        if not texting.enabled
        else f"cooldown {texting.cooldown_hours:g} h per caller, at most {texting.max_per_hour}"
        f" text-backs an hour and {texting.max_per_minute} a minute (safety valves against a"
        f" looping PBX), too late after {texting.expire_after_minutes:g} min",
    )
    if config.modem:
        table.add_row("modem sends", cell(_modem_capacity(config)))
    follow = config.follow_up
    nudge = f"after {follow.nudge.after_hours:g} h" if follow.nudge.enabled else "off"
    table.add_row(
        "follow-up",
        f"remind after {follow.reply_wait_minutes:g} min without a reply"
        f" ({follow.action_wait_minutes:g} min for an unanswered reply), cold"
        f" {follow.cold_after_hours:g} h later, digest at {follow.digest_at:%H:%M},"
        f" nudge {nudge}",
    )
    console.print(table)
    _preview_texts(config)
    check_example_values(checked, config_path, refuse=False)


def _modem_capacity(config: Config) -> str:
    """How many texts an hour the modem can send, beside the cap: a long text
    takes one send per part."""
    assert config.modem is not None
    per_hour = config.modem.texts_per_minute * 60
    parts = max(
        templates.sms_size(textback.fill(config, t, config.lines[0].did, first_text=True)).parts
        for t in (config.texting.business_hours_template, config.texting.after_hours_template)
    )
    said = f"at most {per_hour} texts an hour (texts_per_minute {config.modem.texts_per_minute}"
    said += " x 60; a long text takes one per part)"
    if parts > 1:
        said += f": {per_hour // parts} text-backs of {parts} parts"
    if per_hour // parts < config.texting.max_per_hour:
        said += "; fewer than max_per_hour: in a storm the rest wait, and expire unsent"
    return said


def _preview_texts(config: Config) -> None:
    """Both text-backs as the first caller on the first line would get them."""
    texting = config.texting
    for label, template in (
        ("business hours", texting.business_hours_template),
        ("after hours", texting.after_hours_template),
    ):
        body = textback.fill(config, template, config.lines[0].did, first_text=True)
        size = templates.sms_size(body)
        parts = "1 SMS" if size.parts == 1 else f"{size.parts} SMS parts"
        console.print(
            Text(f"{label} text ({len(body)} characters, {size.encoding}, {parts}):", style="bold")
        )
        console.print(cell(f"  {body}", 2000))
