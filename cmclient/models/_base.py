"""What every generated model stands on: the base classes and the timestamp type.

Two rules shape these classes:

* Responses must never break a deployed client. Output models ignore members they do
  not know, keep enum values they do not know as plain strings (each enum field is
  ``SomeEnum | str``, tried left to right), and treat every member as optional.
* Requests must fail early and loudly. Structures that can appear in a request
  (``InputShape``) reject members they do not know, so a misspelt parameter is an
  error rather than something silently dropped; the response parser turns that off
  with a validation context, because the same structures (``InputDataConfig``...)
  also come back inside responses.

Models are built lazily (``defer_build``): importing a models module creates classes,
and pydantic builds a validator only when a model is first used, so a process that
calls one operation pays for that operation's models alone.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    PlainSerializer,
    ValidationInfo,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticKnownError, SchemaValidator, core_schema

__all__ = ["RESPONSE_CONTEXT", "CharsetPattern", "InputShape", "Shape", "Timestamp"]

#: Validation context the response parser passes: lenient about unknown members.
RESPONSE_CONTEXT: dict[str, bool] = {"response": True}


def _coerce_timestamp(value: Any) -> Any:
    """Epoch seconds (int or fractional) and HTTP dates become datetimes here; ISO-8601
    strings are left to pydantic. Numbers are always seconds: pydantic alone would read
    a large number as milliseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str) and value[:1].isalpha():
        return parsedate_to_datetime(value)
    return value


def _as_utc(value: datetime) -> datetime:
    """AWS times are UTC; a naive datetime from a caller is taken as UTC too."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _epoch_seconds(value: datetime) -> int | float:
    seconds = value.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


#: A timezone-aware UTC datetime; epoch seconds on the wire (awsJson1_1's default).
Timestamp = Annotated[
    datetime,
    BeforeValidator(_coerce_timestamp),
    AfterValidator(_as_utc),
    PlainSerializer(_epoch_seconds, when_used="json"),
]


class CharsetPattern:
    """``Field(pattern=...)`` for a pattern that is one character class repeated,
    ``^[...]*$`` or ``^[...]+$``, checked without compiling the pattern in every process.

    Compiling a pattern in pydantic-core's regex engine takes from a fraction of a
    millisecond to over one (the service's job id and name pattern, with its Unicode
    classes), a large part of building a request model. A string matches such a pattern
    when each of its characters is in the class, so an ASCII value is decided by a set
    lookup in ``ascii_chars``: the ASCII characters the regex itself accepts, listed by
    tools/generate.py. Any other value goes to that same regex, compiled on first need,
    so the answer is pydantic's to the letter (not, say, that of whichever Unicode
    version Python's ``unicodedata`` has). A mismatch is pydantic's own
    ``string_pattern_mismatch`` error, with the pattern as its context.
    """

    __slots__ = ("_ascii", "_nonempty", "pattern")

    def __init__(self, pattern: str, ascii_chars: str) -> None:
        self.pattern = pattern  # also read by the CLI's help
        self._ascii = frozenset(ascii_chars)
        self._nonempty = pattern.rstrip("$)").endswith("+")

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def check(self, value: str) -> str:
        if value.isascii():
            if self._ascii.issuperset(value) and (value or not self._nonempty):
                return value
            raise PydanticKnownError("string_pattern_mismatch", {"pattern": self.pattern})
        # Its error, when there is one, is pydantic's for this value (a string that is
        # not valid Unicode, with a lone surrogate, is a string_unicode error).
        pattern_validator(self.pattern).validate_python(value)
        return value

    def __repr__(self) -> str:
        return f"CharsetPattern({self.pattern!r}, {''.join(sorted(self._ascii))!r})"


@functools.cache
def pattern_validator(pattern: str) -> SchemaValidator:
    """pydantic's own check of ``pattern`` (``Field(pattern=...)``), compiled once."""
    return SchemaValidator(core_schema.str_schema(pattern=pattern))


class Shape(BaseModel):
    """Base of every generated model: snake_case attributes, AWS names as aliases."""

    model_config = ConfigDict(
        defer_build=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=False,
        protected_namespaces=(),
        extra="ignore",
        # No string cache in the JSON parser: pydantic-core allocates a fixed-size table
        # for it on the first JSON validation of the process, a cost every cold start
        # would pay, and it buys nothing here: member names map onto fields without
        # becoming Python strings, and the values (text, ids, times) rarely repeat
        # (bench/README.md has both figures).
        cache_strings=False,
    )


class InputShape(Shape):
    """A structure that can be sent: unknown members are an error, except while a
    response is parsed (see the module docstring)."""

    _known_keys: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        names = set(cls.model_fields)
        names.update(f.alias for f in cls.model_fields.values() if f.alias)
        cls._known_keys = frozenset(names)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_members(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and not (info.context and info.context.get("response")):
            unknown = [key for key in data if key not in cls._known_keys]
            if unknown:
                raise ValueError(
                    f"unknown parameter(s) {', '.join(map(repr, sorted(map(str, unknown))))}; "
                    f"valid ones are {', '.join(sorted(cls.model_fields))}"
                )
        return data
