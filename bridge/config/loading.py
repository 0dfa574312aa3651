"""textback.yaml read, checked and validated: every problem named by file, line
and key, e.g. ``textback.yaml:7: ami.port: expected an integer 1-65535, got
'abc'``. Secrets may be written as ``${ENV_NAME}``, substituted from the
environment before validation. Nothing in the file is executed: no YAML tags,
no aliases, a size cap."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from bridge.config.examples import example_values
from bridge.config.schema import Config

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """Every problem found in a config file, one line each."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


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
                    "store_url",  # says what it got itself, without a password
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
