"""CharsetPattern (a ``^[...]*$`` pattern checked without compiling pydantic's regex)
agrees exactly with ``Field(pattern=...)``, errors included, for every scalar that uses
it, above all JobId and JobName with the service's Unicode pattern; and leaving out the
``.*`` patterns changes nothing either."""

from __future__ import annotations

import json
from typing import Annotated, Any, get_args

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from cmclient.models import _scalars
from cmclient.models._base import CharsetPattern
from tools.generate import MODEL_PATH

NAME_PATTERN = r"^([\p{L}\p{Z}\p{N}_.:/=+\-%@]*)$"
SHAPES = json.loads(MODEL_PATH.read_text())["shapes"]


def _with_charset() -> dict[str, tuple[TypeAdapter[Any], TypeAdapter[Any], CharsetPattern]]:
    """Each scalar checked by CharsetPattern, as it is and as Field(pattern=...) would be."""
    found = {}
    for name in _scalars.__all__:
        base, *metadata = get_args(getattr(_scalars, name)) or (None,)
        checks = [m for m in metadata if isinstance(m, CharsetPattern)]
        if checks:
            (field,) = [m for m in metadata if isinstance(m, FieldInfo)]
            limits = {key: getattr(item, key) for item in field.metadata
                      for key in ("min_length", "max_length") if hasattr(item, key)}
            regex = Annotated[base, Field(pattern=checks[0].pattern, **limits)]  # type: ignore[valid-type]
            found[name] = (TypeAdapter(getattr(_scalars, name)), TypeAdapter(regex), checks[0])
    return found


SCALARS = _with_charset()

# The scalars whose service pattern is ".*", generated without it.
DOT_STAR = [
    (TypeAdapter(_scalars.S3Key), TypeAdapter(Annotated[str, Field(max_length=1024,
                                                                   pattern=".*")])),
    (TypeAdapter(_scalars.KMSKey), TypeAdapter(Annotated[str, Field(min_length=1,
                                                                    max_length=2048,
                                                                    pattern=".*")])),
]


def outcome(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return ("ok", adapter.validate_python(value))
    except ValidationError as exc:
        return ("error", exc.errors())


def test_the_scalars_that_use_it() -> None:
    assert set(SCALARS) == {"JobId", "JobName", "S3Bucket", "ClientRequestTokenString"}
    assert SCALARS["JobId"][2].pattern == SCALARS["JobName"][2].pattern == NAME_PATTERN
    for name, (_, _, check) in SCALARS.items():
        assert check.pattern == SHAPES[name]["pattern"] or name == "S3Bucket"  # PATTERN_FIXES


@pytest.mark.parametrize("name", sorted(SCALARS))
def test_every_ascii_character_is_decided_as_the_regex_decides(name: str) -> None:
    ours, regex, _ = SCALARS[name]
    for code in range(128):
        for value in (chr(code) * 3, f"abc{chr(code)}", f"{chr(code)}xyz"):
            assert outcome(ours, value) == outcome(regex, value), (name, value)


# Mostly characters the patterns allow (so long valid values occur), the rest anything.
ALLOWED_ISH = st.one_of(
    st.characters(categories=["L", "N", "Z"]),
    st.sampled_from("_.:/=+-%@ 0a"),
    st.characters(),
)


@settings(max_examples=400, deadline=None)
@given(value=st.one_of(st.text(), st.text(ALLOWED_ISH, max_size=70)))
@example(value="ünïcödé-1")
@example(value="bad#id")
@example(value="tab\tin name")
@example(value="line\n")
@example(value="\u2028\u3000\u00a0")  # Zl and Zs beyond ASCII
@example(value="\U0001e4d0")  # a letter newer than Python 3.11's unicodedata (Unicode 14)
@example(value="")
@example(value="\ud800")  # a lone surrogate: not Unicode, so a string_unicode error
def test_it_agrees_with_pydantics_pattern(value: str) -> None:
    for ours, regex, _ in SCALARS.values():
        assert outcome(ours, value) == outcome(regex, value)
    for ours, regex in DOT_STAR:
        assert outcome(ours, value) == outcome(regex, value)


def test_the_dot_star_scalars() -> None:
    assert {name for name in _scalars.__all__ if SHAPES[name].get("pattern") == ".*"} == {
        "S3Key", "KMSKey"}


def test_non_strings_fail_as_before() -> None:
    for value in (None, 12, b"abc", b"\xff", ["a"]):
        for ours, regex, _ in SCALARS.values():
            assert outcome(ours, value) == outcome(regex, value)
        for ours, regex in DOT_STAR:
            assert outcome(ours, value) == outcome(regex, value)
