"""The settings, section by section: frozen pydantic models of textback.yaml."""

from __future__ import annotations

import datetime
import functools
import ipaddress
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal

import phonenumbers
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bridge.config.fields import (
    DEFAULT_OFFICE,
    FilePath,
    Host,
    Hours,
    Name,
    OfficeId,
    PhoneNumber,
    Port,
    Seconds,
    Secret,
    Section,
    Template,
    UserName,
    located,
    printable_text,
    quoted,
)
from bridge.config.store_section import StoreConfig
from bridge.config.web_section import WebConfig
from bridge.core import templates


class OfficeConfig(Section):
    # Which office this bridge serves. One office a box needs nothing here; in
    # a PostgreSQL store several offices share (docs/scale.md) every row
    # carries its office, and this bridge sees and writes its own rows only.
    id: OfficeId = DEFAULT_OFFICE


class BusinessConfig(Section):
    name: Name
    timezone: str = "America/Chicago"
    region: str = "US"
    # Opening hours in `timezone`; a line may have its own. Outside them the
    # after-hours text goes out.
    hours: Hours = Field(default_factory=lambda: {"mon-fri": "08:00-17:00"})
    holidays: tuple[datetime.date, ...] = ()
    # What a job is worth on average: `textback report` and the digest value a
    # recovered lead with it where no owner entered an amount (BOOKED 12 450).
    average_job_value: Annotated[float, Field(ge=0, le=1e9)] = 0.0
    currency: Annotated[str, Field(max_length=8)] = "$"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone",
                "expected an IANA time zone such as America/Chicago, got {got}",
                {"got": quoted(value)},
            ) from None
        return value

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise PydanticCustomError(
                "region",
                "expected a two-letter country code such as US, got {got}",
                {"got": quoted(value)},
            )
        return value.upper()


class AmiConfig(Section):
    host: str = "127.0.0.1"
    port: Port = 5038
    username: UserName
    secret: Secret
    connect_timeout: Seconds = 10.0
    # A Ping goes out this often; no answer within ping_timeout means the link stalled.
    ping_interval: Seconds = 20.0
    ping_timeout: Seconds = 10.0
    action_timeout: Seconds = 10.0
    # Reconnect backoff: doubles from reconnect_min up to reconnect_max, with jitter.
    reconnect_min: Seconds = 1.0
    reconnect_max: Seconds = 60.0

    @model_validator(mode="after")
    def _backoff_in_order(self) -> AmiConfig:
        if self.reconnect_min > self.reconnect_max:
            raise located(
                ("reconnect_min",),
                f"{self.reconnect_min:g} s is more than reconnect_max ({self.reconnect_max:g} s)",
            )
        return self


# A channel as Asterisk's Dial and Originate take it: PJSIP/201, Local/201@from-internal.
DialChannel = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,20}/[A-Za-z0-9_.@+{}-]{1,120}$")]


class ClickToCallConfig(Section):
    """`CALL 12`: Asterisk rings the owner first, then dials the thread's caller."""

    # Where the owner's answered leg goes: the shipped [textback-click-to-call]
    # (config/asterisk/extensions.conf) dials its extension, the caller's number.
    context: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$")] = "textback-click-to-call"
    # How Asterisk rings an owner's mobile when they have no `extension`:
    # {number} is the mobile in E.164 (FreePBX: Local/{number}@from-internal).
    mobile_channel: DialChannel = "PJSIP/{number}@trunk"
    ring_seconds: Annotated[float, Field(ge=5, le=120)] = 30.0  # the owner's phone rings this long

    @field_validator("mobile_channel")
    @classmethod
    def _names_the_number(cls, value: str) -> str:
        if "{number}" not in value:
            raise PydanticCustomError("mobile_channel", "expected {number} where the mobile goes")
        return value


class PbxConfig(Section):
    inbound_contexts: tuple[str, ...] = ("from-trunk", "from-pstn", "from-did-direct")
    internal_contexts: tuple[str, ...] = ("from-internal",)
    # Desk phones dial each other with numbers this short (201, 1001...).
    extension_max_digits: Annotated[int, Field(ge=2, le=8)] = 6
    # A call that has sent no event for this long is closed as `unknown`.
    max_call_hours: Annotated[float, Field(gt=0, le=72)] = 12.0
    click_to_call: ClickToCallConfig = ClickToCallConfig()


TransportName = Literal["modem", "sip"]


class LineConfig(Section):
    did: PhoneNumber
    name: Name
    owners: tuple[str, ...] = ()
    hours: Hours | None = None  # None: the business's hours
    # Which SMS transports text for this line, in order of preference: the
    # next is used while the first is down, and for the retry after a failure.
    # Empty: every configured one, the modem first.
    transports: tuple[TransportName, ...] = ()


class TextingConfig(Section):
    enabled: bool = True
    business_hours_template: Template = templates.DEFAULT_BUSINESS_HOURS
    after_hours_template: Template = templates.DEFAULT_AFTER_HOURS
    footer: Annotated[str, Field(max_length=200), AfterValidator(printable_text)] = (
        templates.DEFAULT_FOOTER  # "" turns it off
    )
    text_voicemail_callers: bool = True
    cooldown_hours: Annotated[float, Field(ge=0, le=24 * 30)] = 12.0
    # Safety valves against a looping PBX, not business limits: a hail storm
    # brings a roofer 100+ callers an hour, but no office's trunks produce 20
    # missed calls a minute (each rings for seconds first). Per-number
    # cooldowns stop a loop over the same few numbers.
    max_per_hour: Annotated[int, Field(ge=1, le=10_000)] = 300
    max_per_minute: Annotated[int, Field(ge=1, le=1_000)] = 20
    expire_after_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 30.0
    blocklist: tuple[PhoneNumber, ...] = ()
    allowlist: tuple[PhoneNumber, ...] = ()  # when not empty, only these are texted


Channel = Literal["email", "sms"]


class AlertRules(Section):
    """Which channels carry each kind of news to an owner."""

    missed_call: tuple[Channel, ...] = ("email", "sms")
    reply: tuple[Channel, ...] = ("email", "sms")
    reminder: tuple[Channel, ...] = ("email", "sms")


class OwnerAlerts(Section):
    """Per owner: in and out of the line's business hours. Urgent replies page
    the on-call owner by SMS whatever these say."""

    business_hours: AlertRules = AlertRules()
    after_hours: AlertRules = AlertRules(missed_call=("email",), reminder=("email",))
    digest: bool = True  # the daily email of open threads and recovered leads


class OwnerConfig(Section):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
    name: Name
    email: Annotated[str, Field(pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")] | None = None
    # Texts from this number are the owner's commands ("12 On my way", "DONE 12").
    mobile: PhoneNumber | None = None
    # The owner's desk phone as Asterisk dials it (PJSIP/201): `CALL 12` rings
    # it first; without one, their mobile through pbx.click_to_call.mobile_channel.
    extension: DialChannel | None = None
    on_call: bool = False  # paged by SMS for urgent replies (no one on call: the line's owners)
    alerts: OwnerAlerts = OwnerAlerts()
    admin: bool = False  # the inbox shows every line, not only the lines this owner owns


class NudgeConfig(Section):
    """One follow-up text to a homeowner who went quiet: off unless asked for."""

    enabled: bool = False
    after_hours: Annotated[float, Field(gt=0, le=24 * 7)] = 4.0
    template: Template = templates.DEFAULT_NUDGE


class FollowUpConfig(Section):
    # The homeowner has not answered the text-back this long: remind the owner.
    reply_wait_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 120.0
    # A reply no owner has acted on (answered, CALLED, DONE) this long: remind.
    action_wait_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 30.0
    # After the reminder, this long with nothing happening: the thread is cold.
    cold_after_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24.0
    # A desk's call back to a thread's caller this long after the answer is a
    # conversation (the thread is called back); shorter - a voicemail greeting -
    # or unanswered is an attempt, noted on the thread.
    callback_min_talk_seconds: Annotated[float, Field(ge=0, le=3600)] = 20.0
    digest_at: datetime.time = datetime.time(7, 0)  # business time zone
    # A reply containing any of these pages the on-call owner at once.
    urgent_words: tuple[Annotated[str, Field(min_length=2, max_length=40)], ...] = (
        "emergency", "urgent", "asap", "flood", "flooding", "burst", "leak", "leaking",
        "no heat", "no hot water", "no power", "gas", "smoke", "sparking", "fire",
    )  # fmt: skip
    nudge: NudgeConfig = NudgeConfig()


class ModemConfig(Section):
    """A USB GSM modem (Huawei E3131/E173, SIMCom SIM800/SIM7600, Quectel EC25...)."""

    port: FilePath  # e.g. /dev/ttyUSB0, or a /dev/serial/by-id/... name that survives replugging
    baudrate: Annotated[int, Field(ge=1200, le=4_000_000)] = 115200
    pin: Secret | None = None  # SIM PIN, if the SIM asks for one
    smsc: PhoneNumber | None = None  # used only when the SIM has no SMS centre number
    # How long the network may take to accept a text: vendors document up to
    # 120 s for +CMGS (Quectel); a text that times out is retried as a possible duplicate.
    send_timeout: Seconds = 120.0
    command_timeout: Seconds = 5.0
    texts_per_minute: Annotated[int, Field(ge=1, le=60)] = 10  # modems manage about 6-20
    flow_control: bool = False  # RTS/CTS; most USB modems want it off
    # New-text and report indications; a modem that refuses them falls back to
    # 2,1,0,1 (SIM800), 2,1,0,0, then none (the sweep alone reads texts).
    cnmi: Annotated[str, Field(pattern=r"^[0-3](,[0-3]){0,4}$")] = "2,1,0,2"
    delivery_reports: bool = True
    sweep_seconds: Seconds = 60.0  # re-read the SIM for texts no notification announced


class SipConfig(Section):
    """Texts through Asterisk: the AMI MessageSend action over a PJSIP trunk
    whose provider carries SMS (SIP MESSAGE). Inbound texts come back as the
    UserEvent raised by the shipped dialplan (config/asterisk/extensions.conf)."""

    endpoint: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.+-]{1,80}$")]  # pjsip.conf endpoint
    host: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")]  # provider
    plus_in_uri: bool = True  # sip:+15125550142@host; false: sip:15125550142@host
    inbound_event: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,40}$")] = "TextbackSMS"


class AgiConfig(Section):
    """The FastAGI route the dialplan can call (config/asterisk/extensions.conf)."""

    host: str = "127.0.0.1"  # loopback: Asterisk on this machine
    port: Port = 4573
    # Peers allowed to report calls; when listening beyond loopback, list the PBX.
    allow: tuple[IPvAnyNetwork, ...] = (ipaddress.ip_network("127.0.0.1/32"),)
    header_timeout: Seconds = 5.0  # a client must send its request within this

    @model_validator(mode="after")
    def _not_open_to_all(self) -> AgiConfig:
        loopback = self.host in ("localhost", "::1") or self.host.startswith("127.")
        wide = [n for n in self.allow if n.prefixlen == 0]
        if wide:
            raise located(("allow",), f"{wide[0]} would let anyone report calls: list the PBX")
        if not loopback and all(n.network_address.is_loopback for n in self.allow):
            raise located(
                ("allow",),
                f"listening on {self.host}: list the PBX's addresses here (only loopback is)",
            )
        return self


class MetricsConfig(Section):
    """The /metrics endpoint Prometheus scrapes (docs/metrics.md)."""

    # Loopback: a Prometheus (or its agent) on this box. A central one scrapes
    # this box's LAN or VPN address: name it here, and firewall the port.
    host: Host = "127.0.0.1"
    port: Port = 9466


class SmtpConfig(Section):
    """Where owner alerts are emailed from."""

    host: str
    port: Port = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: UserName | None = None
    password: Secret | None = None
    sender: Annotated[str, Field(pattern=r"^[^\r\n]*<?[^@\s<>]+@[^@\s<>]+>?$")]  # From: header
    timeout: Seconds = 30.0
    # A private CA to trust (an office mail server with its own certificate
    # authority); by default the system's trusted CAs are used.
    ca_file: FilePath | None = None


class CdrCsvConfig(Section):
    """Asterisk's cdr_csv file; the flags say what cdr.conf's [csv] section
    writes (defaults: Asterisk's sample cdr.conf). It must also say
    newcdrcolumns=yes, or rows carry no linkedid."""

    path: Path = Path("/var/log/asterisk/cdr-csv/Master.csv")
    usegmtime: bool = True  # times in UTC; false: in cdr.timezone
    loguniqueid: bool = True
    loguserfield: bool = True


class CdrMysqlConfig(Section):
    """FreePBX's call records: the asteriskcdrdb database (MariaDB)."""

    host: str = "127.0.0.1"
    port: Port = 3306
    user: Name
    password: SecretStr
    database: Annotated[str, Field(pattern=r"^[A-Za-z0-9_$]{1,64}$")] = "asteriskcdrdb"
    table: Annotated[str, Field(pattern=r"^[A-Za-z0-9_$]{1,64}$")] = "cdr"
    connect_timeout: Seconds = 5.0
    query_timeout: Seconds = 10.0


def _csv_path(value: object) -> object:
    return {"path": value} if isinstance(value, str | Path) else value  # `csv: /path` for short


class CdrConfig(Section):
    """Catch-up from Asterisk's call records: one of the two sources."""

    csv: Annotated[CdrCsvConfig, BeforeValidator(_csv_path)] | None = None
    mysql: CdrMysqlConfig | None = None
    timezone: str | None = None  # the PBX's zone; None: business.timezone
    # Records older than this are never alerted on or texted from.
    max_catch_up_hours: Annotated[float, Field(gt=0, le=24 * 7)] = 24.0

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise PydanticCustomError(
                    "timezone",
                    "expected an IANA time zone such as America/Chicago, got {got}",
                    {"got": quoted(value)},
                ) from None
        return value

    @model_validator(mode="after")
    def _one_source(self) -> CdrConfig:
        if self.csv is not None and self.mysql is not None:
            raise located(("mysql",), "give csv or mysql, not both")
        if self.csv is None and self.mysql is None:
            raise located((), "give csv (Master.csv) or mysql (FreePBX's asteriskcdrdb)")
        return self


class LogConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(Section):
    # A test lab: the example's fictional values (555-01xx numbers, .example
    # domains) are allowed. `run` refuses them otherwise; check-config shows it.
    lab: bool = False
    office: OfficeConfig = OfficeConfig()
    business: BusinessConfig
    ami: AmiConfig
    pbx: PbxConfig = PbxConfig()
    lines: Annotated[tuple[LineConfig, ...], Field(min_length=1)]
    owners: tuple[OwnerConfig, ...] = ()
    texting: TextingConfig = TextingConfig()
    follow_up: FollowUpConfig = FollowUpConfig()
    modem: ModemConfig | None = None
    sip: SipConfig | None = None  # neither modem nor sip: nothing is texted
    agi: AgiConfig | None = None  # no agi: calls are followed on AMI only
    smtp: SmtpConfig | None = None  # no smtp: no owner emails
    cdr: CdrConfig | None = None  # no cdr: no catch-up from Asterisk's call records
    metrics: MetricsConfig | None = None  # no metrics: no /metrics endpoint
    store: StoreConfig = StoreConfig()
    web: WebConfig | None = None  # no web: no owner inbox
    log: LogConfig = LogConfig()

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        owner_ids = [o.id for o in self.owners]
        for i, owner_id in enumerate(owner_ids):
            if owner_id in owner_ids[:i]:
                raise located(("owners", i, "id"), f"owner id {owner_id!r} is used twice")
        dids = [line.did for line in self.lines]
        for i, did in enumerate(dids):
            if did in dids[:i]:
                raise located(("lines", i, "did"), f"line {did} is listed twice")
        mobiles = [o.mobile for o in self.owners]
        for i, mobile in enumerate(mobiles):
            if mobile is not None and mobile in mobiles[:i]:
                raise located(("owners", i, "mobile"), f"mobile {mobile} belongs to two owners")
        configured = {"modem": self.modem is not None, "sip": self.sip is not None}
        for i, line in enumerate(self.lines):
            for j, name in enumerate(line.transports):
                if not configured[name]:
                    raise located(
                        ("lines", i, "transports", j),
                        f"no {name!r} section in this config to text through",
                    )
            for j, owner_id in enumerate(line.owners):
                if owner_id not in owner_ids:
                    known = ", ".join(owner_ids) or "none"
                    raise located(
                        ("lines", i, "owners", j),
                        f"unknown owner {owner_id!r} (owners defined: {known})",
                    )
        return self

    def line_for(self, did_e164: str | None) -> LineConfig | None:
        for line in self.lines:
            if line.did == did_e164:
                return line
        return None

    def owner_by_mobile(self, number: str) -> OwnerConfig | None:
        """Owners are recognised by their configured mobile numbers only."""
        return next((o for o in self.owners if o.mobile is not None and o.mobile == number), None)

    def owners_of(self, line: LineConfig | None) -> list[OwnerConfig]:
        """The line's owners; every owner when the line names none."""
        by_id = {owner.id: owner for owner in self.owners}
        chosen = [by_id[i] for i in line.owners] if line and line.owners else []
        return chosen or list(self.owners)

    def owner_of(self, line: LineConfig | None) -> OwnerConfig | None:
        """Who the text names: the line's first owner, else the first owner at all."""
        owners = self.owners_of(line)
        return owners[0] if owners else None

    def opening_hours(self, line: LineConfig | None) -> templates.OpeningHours:
        """Read for every decision and alert: parsed once per set of hours."""
        spec = line.hours if line and line.hours is not None else self.business.hours
        return _opening_hours(tuple(spec.items()), self.business.holidays, self.business.timezone)


@functools.lru_cache(maxsize=64)
def _opening_hours(
    spec: tuple[tuple[str, str], ...], holidays: tuple[datetime.date, ...], zone: str
) -> templates.OpeningHours:
    return templates.parse_hours(dict(spec), holidays, zone)
