"""Field types and their validators: what each kind of setting accepts, with
messages an installer can act on."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from bridge.core import templates
from bridge.core.numbers import to_e164


def _port(value: object) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    ):
        raise PydanticCustomError(
            "port", "expected an integer 1-65535, got {got}", {"got": quoted(value)}
        )
    port = int(value)
    if not 1 <= port <= 65535:
        raise PydanticCustomError(
            "port", "expected an integer 1-65535, got {got}", {"got": quoted(value)}
        )
    return port


def _phone(value: object, info: ValidationInfo) -> str:
    region = (info.context or {}).get("region", "US")
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    e164 = to_e164(text, region)
    if e164 is None:
        raise PydanticCustomError(
            "phone", "expected a phone number, got {got}", {"got": quoted(value)}
        )
    return e164


def quoted(value: object) -> str:
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


def printable_text(value: str) -> str:
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
            "file_path", "expected a file path, got {got}", {"got": quoted(value)}
        )
    return value


def _hours(value: dict[str, str]) -> dict[str, str]:
    try:
        templates.parse_hours(value, (), "UTC")
    except ValueError as exc:
        raise PydanticCustomError("hours", "{message}", {"message": str(exc)}) from None
    return value


def _host(value: object) -> object:
    """An address to listen on: an IP address or a plain host name."""
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            if _HOST_NAME.fullmatch(value):
                return value
    # The loader adds what was found (", got ..."), as for any type it does not list.
    raise PydanticCustomError("host", "expected an IP address or host name such as 127.0.0.1")


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")
Port = Annotated[int, BeforeValidator(_port)]
Host = Annotated[str, BeforeValidator(_host)]
Template = Annotated[
    str,
    Field(min_length=1, max_length=1000),
    AfterValidator(printable_text),
    AfterValidator(_template),
]
Hours = Annotated[dict[str, str], AfterValidator(_hours)]
PhoneNumber = Annotated[str, BeforeValidator(_phone)]
Seconds = Annotated[float, Field(gt=0, le=86_400)]  # more than a day is a typo
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(printable_text)]
UserName = Annotated[str, BeforeValidator(_credential), Field(max_length=200)]
Secret = Annotated[SecretStr, BeforeValidator(_credential)]
FilePath = Annotated[Path, BeforeValidator(_file_path)]  # "" would be Path("."), the cwd
# An office's id (office.id): it names the office's rows in a shared store.
OFFICE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
DEFAULT_OFFICE = "main"  # a box's one office, and a database's from before offices
OfficeId = Annotated[str, Field(pattern=f"^{OFFICE_ID.pattern}$")]


class Section(BaseModel):
    # allow_inf_nan: .inf, .nan and 1e400 (inf) are not settings: an .inf ping_interval
    # would mean no Ping ever.
    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, allow_inf_nan=False
    )


def located(loc: tuple[str | int, ...], message: str) -> PydanticCustomError:
    return PydanticCustomError("located", "{message}", {"message": message, "loc": list(loc)})
