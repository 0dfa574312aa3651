"""textback.yaml -> frozen, typed settings.

pydantic does the validation; this module only adds what an installer needs
from the error messages: the file, the line and the key path of each problem,
e.g. ``textback.yaml:7: ami.port: expected an integer 1-65535, got 'abc'``.
Secrets may be written as ``${ENV_NAME}`` and are substituted from the
environment before validation.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import os
import re
import unicodedata
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import phonenumbers
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bridge.core import templates
from bridge.core.numbers import to_e164

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """Every problem found in a config file, one line each."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------- field types


def _port(value: object) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    ):
        raise PydanticCustomError(
            "port", "expected an integer 1-65535, got {got}", {"got": _q(value)}
        )
    port = int(value)
    if not 1 <= port <= 65535:
        raise PydanticCustomError(
            "port", "expected an integer 1-65535, got {got}", {"got": _q(value)}
        )
    return port


def _phone(value: object, info: ValidationInfo) -> str:
    region = (info.context or {}).get("region", "US")
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    e164 = to_e164(text, region)
    if e164 is None:
        raise PydanticCustomError("phone", "expected a phone number, got {got}", {"got": _q(value)})
    return e164


def _q(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _template(value: str) -> str:
    try:
        names = templates.placeholders_in(value)
    except templates.NotPlainPlaceholder as exc:
        raise PydanticCustomError("template", "{message}", {"message": str(exc)}) from None
    except ValueError as exc:
        raise PydanticCustomError(
            "template", "{message}", {"message": f"a brace is not closed: {exc}"}
        ) from None
    unknown = sorted(names - templates.PLACEHOLDERS)
    if unknown:
        message = f"unknown placeholder {{{unknown[0]}}}; use {{business}}, {{owner}} or {{line}}"
        raise PydanticCustomError("template", "{message}", {"message": message})
    return value


def _credential(value: object) -> object:
    """A user name, secret or PIN: sent as typed, so no hidden characters and not empty.
    The value itself is never echoed in the message."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if isinstance(text, bool | int | float):
        problem = "must be text: put it in quotes (a number loses leading zeros)"
    elif not isinstance(text, str):
        return value  # pydantic names the type
    elif not text:
        problem = "is empty (set to nothing here or in secrets.env?)"
    elif text.endswith("\r"):
        problem = (
            "ends in a carriage return (\\r): a secrets.env saved with Windows line ends?"
            " Save it with Unix line ends (dos2unix /etc/textback/secrets.env)"
        )
    elif bad := next((ch for ch in text if unicodedata.category(ch) == "Cc"), None):
        problem = f"contains a control character (U+{ord(bad):04X}): remove it"
    else:
        return value
    raise PydanticCustomError("credential", "{message}", {"message": problem})


def _printable(value: str) -> str:
    """Words that reach texts, emails and terminals: no control characters,
    however the YAML spelled them ("\\u0007", "\\e")."""
    bad = next((ch for ch in value if unicodedata.category(ch) in ("Cc", "Cf")), None)
    if bad is not None:
        raise PydanticCustomError(
            "printable", "{message}",
            {"message": f"contains a control character (U+{ord(bad):04X}): remove it"},
        )  # fmt: skip
    return value


def _file_path(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        raise PydanticCustomError(
            "file_path", "expected a file path, got {got}", {"got": _q(value)}
        )
    return value


def _hours(value: dict[str, str]) -> dict[str, str]:
    try:
        templates.parse_hours(value, (), "UTC")
    except ValueError as exc:
        raise PydanticCustomError("hours", "{message}", {"message": str(exc)}) from None
    return value


Port = Annotated[int, BeforeValidator(_port)]
Template = Annotated[
    str, Field(min_length=1, max_length=1000), AfterValidator(_printable), AfterValidator(_template)
]
Hours = Annotated[dict[str, str], AfterValidator(_hours)]
PhoneNumber = Annotated[str, BeforeValidator(_phone)]
Seconds = Annotated[float, Field(gt=0, le=86_400)]  # more than a day is a typo
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
UserName = Annotated[str, BeforeValidator(_credential), Field(max_length=200)]
Secret = Annotated[SecretStr, BeforeValidator(_credential)]
FilePath = Annotated[Path, BeforeValidator(_file_path)]  # "" would be Path("."), the cwd


class _Model(BaseModel):
    # allow_inf_nan: .inf, .nan and 1e400 (inf) are not settings: an .inf ping_interval
    # would mean no Ping ever.
    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, allow_inf_nan=False
    )


# ---------------------------------------------------------------- sections


class BusinessConfig(_Model):
    name: Name
    timezone: str = "America/Chicago"
    region: str = "US"
    # Opening hours in `timezone`; a line may have its own. Outside them the
    # after-hours text goes out.
    hours: Hours = Field(default_factory=lambda: {"mon-fri": "08:00-17:00"})
    holidays: tuple[datetime.date, ...] = ()
    # What a job is worth on average: `textback report` values recovered leads with it.
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
                {"got": _q(value)},
            ) from None
        return value

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise PydanticCustomError(
                "region",
                "expected a two-letter country code such as US, got {got}",
                {"got": _q(value)},
            )
        return value.upper()


class AmiConfig(_Model):
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
            raise _at(
                ("reconnect_min",),
                f"{self.reconnect_min:g} s is more than reconnect_max ({self.reconnect_max:g} s)",
            )
        return self


class PbxConfig(_Model):
    inbound_contexts: tuple[str, ...] = ("from-trunk", "from-pstn", "from-did-direct")
    internal_contexts: tuple[str, ...] = ("from-internal",)
    # Desk phones dial each other with numbers this short (201, 1001...).
    extension_max_digits: Annotated[int, Field(ge=2, le=8)] = 6
    # A call that has sent no event for this long is closed as `unknown`.
    max_call_hours: Annotated[float, Field(gt=0, le=72)] = 12.0


TransportName = Literal["modem", "sip"]


class LineConfig(_Model):
    did: PhoneNumber
    name: Name
    owners: tuple[str, ...] = ()
    hours: Hours | None = None  # None: the business's hours
    # Which SMS transports text for this line, in order of preference: the
    # next is used while the first is down, and for the retry after a failure.
    # Empty: every configured one, the modem first.
    transports: tuple[TransportName, ...] = ()


class TextingConfig(_Model):
    enabled: bool = True
    business_hours_template: Template = templates.DEFAULT_BUSINESS_HOURS
    after_hours_template: Template = templates.DEFAULT_AFTER_HOURS
    footer: Annotated[str, Field(max_length=200), AfterValidator(_printable)] = (
        templates.DEFAULT_FOOTER  # "" turns it off
    )
    text_voicemail_callers: bool = True
    cooldown_hours: Annotated[float, Field(ge=0, le=24 * 30)] = 12.0
    max_per_hour: Annotated[int, Field(ge=1, le=10_000)] = 30
    expire_after_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 30.0
    blocklist: tuple[PhoneNumber, ...] = ()
    allowlist: tuple[PhoneNumber, ...] = ()  # when not empty, only these are texted


Channel = Literal["email", "sms"]


class AlertRules(_Model):
    """Which channels carry each kind of news to an owner."""

    missed_call: tuple[Channel, ...] = ("email", "sms")
    reply: tuple[Channel, ...] = ("email", "sms")
    reminder: tuple[Channel, ...] = ("email", "sms")


class OwnerAlerts(_Model):
    """Per owner: in and out of the line's business hours. Urgent replies page
    the on-call owner by SMS whatever these say."""

    business_hours: AlertRules = AlertRules()
    after_hours: AlertRules = AlertRules(missed_call=("email",), reminder=("email",))
    digest: bool = True  # the daily email of open threads and recovered leads


class OwnerConfig(_Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
    name: Name
    email: Annotated[str, Field(pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")] | None = None
    # Texts from this number are the owner's commands ("12 On my way", "DONE 12").
    mobile: PhoneNumber | None = None
    on_call: bool = False  # paged by SMS for urgent replies (no one on call: the line's owners)
    alerts: OwnerAlerts = OwnerAlerts()


class NudgeConfig(_Model):
    """One follow-up text to a homeowner who went quiet: off unless asked for."""

    enabled: bool = False
    after_hours: Annotated[float, Field(gt=0, le=24 * 7)] = 4.0
    template: Template = templates.DEFAULT_NUDGE


class FollowUpConfig(_Model):
    # The homeowner has not answered the text-back this long: remind the owner.
    reply_wait_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 120.0
    # A reply no owner has acted on (answered, CALLED, DONE) this long: remind.
    action_wait_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 30.0
    # After the reminder, this long with nothing happening: the thread is cold.
    cold_after_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24.0
    digest_at: datetime.time = datetime.time(7, 0)  # business time zone
    # A reply containing any of these pages the on-call owner at once.
    urgent_words: tuple[Annotated[str, Field(min_length=2, max_length=40)], ...] = (
        "emergency", "urgent", "asap", "flood", "flooding", "burst", "leak", "leaking",
        "no heat", "no hot water", "no power", "gas", "smoke", "sparking", "fire",
    )  # fmt: skip
    nudge: NudgeConfig = NudgeConfig()


class ModemConfig(_Model):
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


class SipConfig(_Model):
    """Texts through Asterisk: the AMI MessageSend action over a PJSIP trunk
    whose provider carries SMS (SIP MESSAGE). Inbound texts come back as the
    UserEvent raised by the shipped dialplan (config/asterisk/extensions.conf)."""

    endpoint: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.+-]{1,80}$")]  # pjsip.conf endpoint
    host: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")]  # provider
    plus_in_uri: bool = True  # sip:+15125550142@host; false: sip:15125550142@host
    inbound_event: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,40}$")] = "TextbackSMS"


class AgiConfig(_Model):
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
            raise _at(("allow",), f"{wide[0]} would let anyone report calls: list the PBX")
        if not loopback and all(n.network_address.is_loopback for n in self.allow):
            raise _at(
                ("allow",),
                f"listening on {self.host}: list the PBX's addresses here (only loopback is)",
            )
        return self


class SmtpConfig(_Model):
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


class CdrCsvConfig(_Model):
    """Asterisk's cdr_csv file; the flags say what cdr.conf's [csv] section
    writes (defaults: Asterisk's sample cdr.conf). It must also say
    newcdrcolumns=yes, or rows carry no linkedid."""

    path: Path = Path("/var/log/asterisk/cdr-csv/Master.csv")
    usegmtime: bool = True  # times in UTC; false: in cdr.timezone
    loguniqueid: bool = True
    loguserfield: bool = True


class CdrMysqlConfig(_Model):
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


class CdrConfig(_Model):
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
                    {"got": _q(value)},
                ) from None
        return value

    @model_validator(mode="after")
    def _one_source(self) -> CdrConfig:
        if self.csv is not None and self.mysql is not None:
            raise _at(("mysql",), "give csv or mysql, not both")
        if self.csv is None and self.mysql is None:
            raise _at((), "give csv (Master.csv) or mysql (FreePBX's asteriskcdrdb)")
        return self


class StoreConfig(_Model):
    path: FilePath = Path("/var/lib/textback/textback.db")


class LogConfig(_Model):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(_Model):
    # A test lab: the example's fictional values (555-01xx numbers, .example
    # domains) are allowed. `run` refuses them otherwise; check-config shows it.
    lab: bool = False
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
    store: StoreConfig = StoreConfig()
    log: LogConfig = LogConfig()

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        owner_ids = [o.id for o in self.owners]
        for i, owner_id in enumerate(owner_ids):
            if owner_id in owner_ids[:i]:
                raise _at(("owners", i, "id"), f"owner id {owner_id!r} is used twice")
        dids = [line.did for line in self.lines]
        for i, did in enumerate(dids):
            if did in dids[:i]:
                raise _at(("lines", i, "did"), f"line {did} is listed twice")
        mobiles = [o.mobile for o in self.owners]
        for i, mobile in enumerate(mobiles):
            if mobile is not None and mobile in mobiles[:i]:
                raise _at(("owners", i, "mobile"), f"mobile {mobile} belongs to two owners")
        configured = {"modem": self.modem is not None, "sip": self.sip is not None}
        for i, line in enumerate(self.lines):
            for j, name in enumerate(line.transports):
                if not configured[name]:
                    raise _at(
                        ("lines", i, "transports", j),
                        f"no {name!r} section in this config to text through",
                    )
            for j, owner_id in enumerate(line.owners):
                if owner_id not in owner_ids:
                    known = ", ".join(owner_ids) or "none"
                    raise _at(
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
        spec = line.hours if line and line.hours is not None else self.business.hours
        return templates.parse_hours(spec, self.business.holidays, self.business.timezone)


def _at(loc: tuple[str | int, ...], message: str) -> PydanticCustomError:
    return PydanticCustomError("located", "{message}", {"message": message, "loc": list(loc)})


# ---------------------------------------------------------------- example values

EXAMPLE_BUSINESS = "Acme Roofing"
# RFC 2606 / 6761: names that can never be anyone's real mail or SIP domain.
_RESERVED_TLDS = frozenset({"example", "invalid", "test"})
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
# NANP numbers reserved for fiction: 555-0100 to 555-0199 in any area code.
_FICTIONAL_NUMBER = re.compile(r"\+1[2-9]\d{2}55501\d{2}")

Loc = tuple[str | int, ...]


def example_values(config: Config) -> list[tuple[Loc, str]]:
    """Values the installer left as the example has them (mautrix's ForbiddenDefault)."""
    found: list[tuple[Loc, str]] = []
    if config.business.name.strip().casefold() == EXAMPLE_BUSINESS.casefold():
        found.append((("business", "name"), f"{EXAMPLE_BUSINESS!r} is the example's name"))
    numbers: list[tuple[Loc, str | None]] = [
        (("lines", i, "did"), line.did) for i, line in enumerate(config.lines)
    ]
    numbers += [(("owners", i, "mobile"), o.mobile) for i, o in enumerate(config.owners)]
    found += [
        (loc, f"{number} is a fictional number (555-0100 to 555-0199)")
        for loc, number in numbers
        if number is not None and _FICTIONAL_NUMBER.fullmatch(number)
    ]
    found += [
        (loc, f"{value} is in a reserved example domain ({domain})")
        for loc, value in _domain_values(config)
        if (domain := _reserved_domain(value)) is not None
    ]
    return found


def _domain_values(config: Config) -> list[tuple[Loc, str]]:
    values: list[tuple[Loc, str | None]] = [
        (("owners", i, "email"), o.email) for i, o in enumerate(config.owners)
    ]
    if config.smtp is not None:
        smtp = config.smtp
        values += [(("smtp", "host"), smtp.host), (("smtp", "username"), smtp.username)]
        values.append((("smtp", "sender"), smtp.sender))
    if config.sip is not None:
        values.append((("sip", "host"), config.sip.host))
    return [(loc, value) for loc, value in values if value]


def _reserved_domain(value: str) -> str | None:
    """The reserved domain in a host, an address or a 'Name <address>' sender."""
    address = value.rsplit("<", 1)[-1].rstrip(">").strip()
    host = address.rpartition("@")[2].split(":", 1)[0].rstrip(".").lower()
    if host.rpartition(".")[2] in _RESERVED_TLDS:
        return "." + host.rpartition(".")[2]
    return next((d for d in _RESERVED_DOMAINS if host == d or host.endswith("." + d)), None)


# ---------------------------------------------------------------- loading


MAX_CONFIG_BYTES = 1024 * 1024  # a real config is a few KiB; anything near this is the wrong file
MAX_NESTING = 32  # the schema is 5 levels deep; a deeper file is not a config
_YAML = "tag:yaml.org,2002:"
# What a config can hold. Anything else (!secret, !!python/..., !!binary) is refused
# before construction: nothing is executed, and the user gets a line, not a traceback.
_PLAIN_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "map", "seq"))
# Control characters YAML cannot hold (NUL, Ctrl-Z, DEL, C1...); tab, LF and CR are fine.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")
_CONTROL_NAMES = {0x00: "NUL", 0x1A: "Ctrl-Z", 0x1B: "ESC", 0x7F: "DEL"}


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, substitute ``${ENV}``, validate. Raises ConfigError naming file:line: key."""
    return load_checked(path, environ).config


def _read_text(path: Path, name: str) -> str:
    """The file as text, refused before any parsing if it is too big or not text."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)  # never more: /dev/zero is a "file" too
    except FileNotFoundError:
        raise ConfigError([f"{name}: file not found"]) from None
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read: {exc.strerror or exc}"]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{name}: larger than 1 MiB: is this the right file?"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start]
        message = f"{name}:{line}: not UTF-8 text (byte 0x{bad:02x}): save it as UTF-8"
        raise ConfigError([message]) from None
    found = _CONTROL.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        code = ord(found.group())
        what = f"U+{code:04X}" + (f" ({_CONTROL_NAMES[code]})" if code in _CONTROL_NAMES else "")
        raise ConfigError([f"{name}:{line}: a control character {what}: is this a text file?"])
    return text


class _Refused(Exception):
    """YAML that is valid but has no place in a config: aliases, deep nesting."""

    def __init__(self, event: yaml.Event, problem: str):
        super().__init__(problem)
        self.line = event.start_mark.line + 1 if event.start_mark else 1
        self.problem = problem


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader without aliases: one ``*alias`` can repeat a whole subtree, so
    nine lines of nested aliases (the "billion laughs") expand to 10**9 values.
    A config never needs them; they are refused where they appear."""

    def __init__(self, text: str):
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(event, "YAML aliases (*name) are not supported: write the value out")
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise _Refused(event, f"nested more than {MAX_NESTING} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass(frozen=True, slots=True)
class CheckedConfig:
    config: Config
    # "file:line: key: why" for each value left as the example has it.
    example_values: tuple[str, ...]


def load_checked(path: str | Path, environ: Mapping[str, str] | None = None) -> CheckedConfig:
    """:func:`load_config`, and which values are still the example's placeholders."""
    env = os.environ if environ is None else environ
    name = str(path)
    config, root = _parse(_read_text(Path(path), name), name, env)
    found = sorted((_line_of(root, loc), _dotted(loc), why) for loc, why in example_values(config))
    return CheckedConfig(config, tuple(f"{name}:{line}: {key}: {why}" for line, key, why in found))


def parse_config(text: str, name: str, environ: Mapping[str, str]) -> Config:
    return _parse(text, name, environ)[0]


def _parse(text: str, name: str, environ: Mapping[str, str]) -> tuple[Config, yaml.Node]:
    loader = _ConfigLoader(text)
    try:
        root = _compose(loader, name)
        problems: list[str] = []
        _check_node(root, (), name, environ, problems)
        if problems:
            raise ConfigError(problems)
        data = _construct(loader, root, name)
    finally:
        loader.dispose()

    region = "US"
    business = data.get("business")
    if isinstance(business, dict) and isinstance(business.get("region"), str):
        region = business["region"].upper()
    try:
        return Config.model_validate(data, context={"region": region}), root
    except ValidationError as exc:
        raise ConfigError(_describe(exc, root, name)) from None


def _compose(loader: _ConfigLoader, name: str) -> yaml.MappingNode:
    try:
        root = loader.get_single_node()
    except _Refused as exc:
        raise ConfigError([f"{name}:{exc.line}: {exc.problem}"]) from None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([f"{name}:{_yaml_line(exc)}: not valid YAML: {exc.problem}"]) from None
    if root is None:
        raise ConfigError([f"{name}: the file is empty"])
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError([f"{name}:{root.start_mark.line + 1}: expected a mapping of sections"])
    return root


def _construct(loader: _ConfigLoader, root: yaml.Node, name: str) -> dict[Any, Any]:
    """Python values from checked nodes; what the checks did not foresee is still one line."""
    try:
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([f"{name}:{_yaml_line(exc)}: not valid YAML: {exc.problem}"]) from None
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        raise ConfigError([f"{name}: not valid YAML: {exc}"]) from None
    assert isinstance(data, dict)  # the root is a mapping node
    return data


def _yaml_line(exc: yaml.MarkedYAMLError) -> int:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark else 1


def _check_scalar(node: yaml.ScalarNode) -> str | None:
    """Make a scalar plain; or say why it cannot be in a config."""
    if node.tag == _YAML + "timestamp":
        # Dates are validated by pydantic, so 2026-02-30 is a located error, not a traceback.
        node.tag = _YAML + "str"
    elif node.tag == _YAML + "value" and node.value == "=":
        node.tag = _YAML + "str"  # a bare "=" is text, not YAML 1.1's value key
    elif node.tag in (_YAML + "int", _YAML + "float") and len(node.value) > 40:
        return f"{node.value[:20]}... is not a number a setting can take"
    elif node.tag == _YAML + "merge":
        return "merge keys (<<) are not supported: write the keys out"
    return _tag_problem(node)


def _tag_problem(node: yaml.Node) -> str | None:
    if node.tag in _PLAIN_TAGS:
        return None
    tag = "!!" + node.tag[len(_YAML) :] if node.tag.startswith(_YAML) else node.tag
    return f"the YAML tag {tag} is not supported: write a plain value (${{ENV_NAME}} for secrets)"


def _check_node(
    node: yaml.Node,
    path: tuple[str | int, ...],
    name: str,
    environ: Mapping[str, str],
    problems: list[str],
) -> None:
    """Refuse odd tags and duplicate keys; substitute ``${ENV}`` in strings, in place."""
    where = f"{name}:{node.start_mark.line + 1}: {_dotted(path)}"
    problem = _check_scalar(node) if isinstance(node, yaml.ScalarNode) else _tag_problem(node)
    if problem is not None:
        problems.append(f"{where}: {problem}")
    elif isinstance(node, yaml.MappingNode):
        _check_mapping(node, path, name, environ, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_node(item, (*path, index), name, environ, problems)
    elif isinstance(node, yaml.ScalarNode) and node.tag == _YAML + "str":
        node.value = _substitute(node.value, where, environ, problems)


def _check_mapping(
    node: yaml.MappingNode,
    path: tuple[str | int, ...],
    name: str,
    environ: Mapping[str, str],
    problems: list[str],
) -> None:
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        problem = _key_problem(key_node)
        if problem is not None:
            problems.append(f"{name}:{line}: {_dotted(path)}: {problem}")
            continue
        key = str(key_node.value)
        if key in seen:
            where = f"{name}:{line}: {_dotted((*path, key))}"
            problems.append(f"{where}: key repeated (first on line {seen[key]})")
        seen.setdefault(key, line)
        _check_node(value_node, (*path, key), name, environ, problems)


def _key_problem(node: yaml.Node) -> str | None:
    if not isinstance(node, yaml.ScalarNode):
        return "a key must be a plain name"
    problem = _check_scalar(node)
    if problem is None and node.tag != _YAML + "str":
        problem = f"the key {node.value!r} is not a name (quote it if it is meant)"
    return problem


def _substitute(value: str, where: str, environ: Mapping[str, str], problems: list[str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        var = match.group(1)
        if var not in environ:
            problems.append(f"{where}: environment variable {var} is not set")
            return ""
        return environ[var]

    return _ENV_REF.sub(substitute, value)


def _describe(exc: ValidationError, root: yaml.Node, name: str) -> list[str]:
    problems = []
    errors = exc.errors(include_url=False)
    for error in errors:
        loc: tuple[str | int, ...] = tuple(error["loc"])
        if error["type"] == "too_short" and any(
            tuple(other["loc"][: len(loc)]) == loc and len(other["loc"]) > len(loc)
            for other in errors
        ):
            continue  # "no items left" only because an item failed: report the item
        ctx = error.get("ctx") or {}
        if error["type"] == "located":
            loc = (*loc, *ctx["loc"])
            message = ctx["message"]
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] == "extra_forbidden":
            message = "unknown key" + _suggest(loc, root)
        else:
            message = error["msg"]
            if not error["type"].startswith(
                (
                    "port",
                    "phone",
                    "timezone",
                    "region",
                    "template",
                    "hours",
                    "credential",
                    "file_path",
                    "printable",
                )
            ):
                message = _lower_first(message)
                got = _node_at(root, loc)
                if isinstance(got, yaml.ScalarNode):
                    message += f", got {got.value!r}"
        problems.append(f"{name}:{_line_of(root, loc)}: {_dotted(loc)}: {message}")
    return problems


def _node_at(root: yaml.Node, loc: tuple[str | int, ...]) -> yaml.Node | None:
    node: yaml.Node | None = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            return None
    return node


def _line_of(root: yaml.Node, loc: tuple[str | int, ...]) -> int:
    """The line of the deepest part of ``loc`` that exists in the file."""
    for depth in range(len(loc), -1, -1):
        prefix = loc[:depth]
        parent = _node_at(root, prefix[:-1]) if prefix else None
        if prefix and isinstance(parent, yaml.MappingNode):
            for key_node, _ in parent.value:
                if key_node.value == prefix[-1]:
                    return int(key_node.start_mark.line) + 1
        node = _node_at(root, prefix)
        if node is not None:
            return int(node.start_mark.line) + 1
    return 1


def _suggest(loc: tuple[str | int, ...], root: yaml.Node) -> str:
    section: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = section.model_fields.get(part) if hasattr(section, "model_fields") else None
        if field is None:
            return ""
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        section = next((a for a in (annotation, *args) if hasattr(a, "model_fields")), None)
        if section is None:
            return ""
    known = list(section.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
