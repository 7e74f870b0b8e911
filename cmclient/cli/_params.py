"""Command-line parameters, derived from the operation's input model.

Nothing here is written per operation: each field of an input model becomes one
``--kebab-case`` flag (botocore's ``xform_name`` of the AWS member name, as the AWS CLI
does), its help text is built from the field's type and limits, and its value is read
the AWS CLI's ways: a plain string, ``file://path``, JSON, or shorthand
(``S3Bucket=my-bucket,S3Key=notes/``).
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from cmclient._protocol.names import xform_name

__all__ = ["BadParameter", "Param", "TypeInfo", "describe", "params_of", "parse_value"]


class BadParameter(ValueError):
    """A value on the command line cannot be read (exit code 252)."""


@dataclass(frozen=True)
class TypeInfo:
    """What a value must be: its kind and the service model's limits on it."""

    kind: str  # string, integer, float, boolean, timestamp, enum, structure, list
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    ge: float | None = None
    le: float | None = None
    enum_values: tuple[str, ...] = ()
    model: type[BaseModel] | None = None
    item: TypeInfo | None = None


@dataclass(frozen=True)
class Param:
    """One input member as a command-line flag."""

    name: str  # snake_case attribute (the client method's keyword)
    alias: str  # AWS member name
    required: bool
    info: TypeInfo
    members: tuple[Param, ...] = field(default=())

    @property
    def flag(self) -> str:
        return "--" + xform_name(self.alias, "-")

    @property
    def dest(self) -> str:
        return "p_" + self.name


def _constraints(items: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        nested = getattr(item, "metadata", None)
        if isinstance(nested, list):  # a FieldInfo inside Annotated[...]
            found.update(_constraints(nested))
        for key in ("min_length", "max_length", "pattern", "ge", "le"):
            value = getattr(item, key, None)
            if value is not None:
                found[key] = value
    return found


def type_info(annotation: Any, metadata: Any = ()) -> TypeInfo:
    """Describe a pydantic field annotation (Optional, Annotated and ``Enum | str``
    unions unwrapped)."""
    limits = _constraints(metadata)
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        inner = type_info(base, extra)
        merged = {k: v for k, v in inner.__dict__.items()}
        merged.update({k: v for k, v in limits.items() if v is not None})
        return TypeInfo(**merged)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        enums = [a for a in args if isinstance(a, type) and issubclass(a, Enum)]
        if enums:
            values = tuple(str(member.value) for e in enums for member in e)
            return TypeInfo("enum", enum_values=values)
        if len(args) == 1:
            return type_info(args[0], metadata)
        return TypeInfo("string", **limits)
    if origin is list:
        (item,) = get_args(annotation) or (str,)
        return TypeInfo("list", item=type_info(item), **limits)
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return TypeInfo("structure", model=annotation)
        if issubclass(annotation, Enum):
            return TypeInfo("enum", enum_values=tuple(str(m.value) for m in annotation))
        if issubclass(annotation, bool):
            return TypeInfo("boolean")
        if issubclass(annotation, int):
            return TypeInfo("integer", **limits)
        if issubclass(annotation, float):
            return TypeInfo("float", **limits)
        if issubclass(annotation, datetime):
            return TypeInfo("timestamp")
    return TypeInfo("string", **limits)


def params_of(model: type[BaseModel]) -> tuple[Param, ...]:
    """Every member of an input model, in the model's order."""
    params = []
    for name, info in model.model_fields.items():
        described = type_info(info.annotation, info.metadata)
        members = params_of(described.model) if described.model is not None else ()
        params.append(Param(name, info.alias or name, info.is_required(), described, members))
    return tuple(params)


def _limits(info: TypeInfo) -> list[str]:
    out = []
    if info.min_length is not None or info.max_length is not None:
        low = info.min_length if info.min_length is not None else 0
        high = info.max_length if info.max_length is not None else "∞"
        out.append(f"length {low}-{high}")
    if info.pattern is not None and info.pattern != ".*":
        out.append(f"pattern {info.pattern}")
    if info.ge is not None or info.le is not None:
        low_s = "-∞" if info.ge is None else f"{info.ge:g}"
        high_s = "∞" if info.le is None else f"{info.le:g}"
        out.append(f"range {low_s}-{high_s}")
    if info.enum_values:
        out.append("one of: " + ", ".join(info.enum_values))
    return out


def describe(param: Param) -> str:
    """One line of help: type, required or optional, limits; for a structure, its
    members in shorthand form."""
    info = param.info
    kind = info.kind
    if kind == "timestamp":
        kind = "timestamp (ISO-8601 or epoch seconds)"
    parts = [kind, "required" if param.required else "optional", *_limits(info)]
    text = "; ".join(parts)
    if param.members:
        inner = ", ".join(
            f"{m.alias}={m.info.kind}"
            + (" (" + "; ".join(["required", *_limits(m.info)] if m.required
                                 else _limits(m.info)) + ")"
               if m.required or _limits(m.info) else "")
            for m in param.members
        )
        text += f". Shorthand: {_shorthand_example(param)}, or JSON. Members: {inner}"
    return text


def _shorthand_example(param: Param) -> str:
    return ",".join(f"{m.alias}={m.info.kind}" for m in param.members)


# --- reading values --------------------------------------------------------------


def read_file_arg(raw: str, flag: str) -> str:
    """``file://path`` becomes the file's text (as the AWS CLI does); anything else
    is returned as is."""
    if raw.startswith("file://"):
        path = Path(raw[len("file://"):]).expanduser()
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BadParameter(f"Error parsing parameter '{flag}': Unable to load paramfile "
                               f"{raw}: {exc.strerror or exc}") from None
    return raw


def parse_value(raw: str, param: Param) -> Any:
    """The value of one flag, read from its command-line string."""
    text = read_file_arg(raw, param.flag)
    kind = param.info.kind
    if kind in ("structure", "list"):
        stripped = text.strip()
        if stripped[:1] in ("{", "[") or (kind == "list" and stripped[:1] == '"'):
            try:
                return json.loads(stripped)
            except ValueError as exc:
                raise BadParameter(
                    f"Error parsing parameter '{param.flag}': Invalid JSON: {exc}"
                ) from None
        try:
            parsed = _Shorthand(stripped).parse_top(kind == "list")
        except BadParameter as exc:
            raise BadParameter(f"Error parsing parameter '{param.flag}': {exc}") from None
        return parsed
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise BadParameter(
                f"Error parsing parameter '{param.flag}': expected an integer"
            ) from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise BadParameter(
                f"Error parsing parameter '{param.flag}': expected a number") from None
    if kind == "boolean":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise BadParameter(f"Error parsing parameter '{param.flag}': expected true or false")
    return text


class _Shorthand:
    """The AWS CLI's shorthand syntax: ``Key=Value,Key2={A=b,C=d},Key3=[x,y]``, with
    single or double quotes around values that hold separators."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str) -> BadParameter:
        return BadParameter(f"Expected: {what}, received: '{self.text[self.pos:self.pos + 1]}' "
                            f"at position {self.pos} of the shorthand syntax")

    def parse_top(self, as_list: bool) -> Any:
        value = self.values() if as_list else self.pairs(end="")
        if self.pos != len(self.text):
            raise self.error("',' or end of input")
        return value

    def pairs(self, end: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            key = self.key()
            if not self.take("="):
                raise self.error("'='")
            result[key] = self.value(end)
            if not self.take(","):
                return result

    def values(self) -> list[Any]:
        items = [self.value(end="]")]
        while self.take(","):
            items.append(self.value(end="]"))
        return items

    def key(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum()
                                             or self.text[self.pos] in "_-.:"):
            self.pos += 1
        if start == self.pos:
            raise self.error("a member name")
        return self.text[start:self.pos].strip()

    def take(self, char: str) -> bool:
        if self.text.startswith(char, self.pos):
            self.pos += len(char)
            return True
        return False

    def value(self, end: str) -> Any:
        if self.take("{"):
            if self.take("}"):
                return {}
            inner = self.pairs(end="}")
            if not self.take("}"):
                raise self.error("'}'")
            return inner
        if self.take("["):
            if self.take("]"):
                return []
            items = self.values()
            if not self.take("]"):
                raise self.error("']'")
            return items
        quote = self.text[self.pos:self.pos + 1]
        if quote in ("'", '"'):
            close = self.text.find(quote, self.pos + 1)
            if close < 0:
                raise self.error(f"closing {quote}")
            value = self.text[self.pos + 1:close]
            self.pos = close + 1
            return value
        start = self.pos
        stops = ",}]" if end else ","
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            self.pos += 1
        return self.text[start:self.pos]
