"""Profiles: which one a client uses, its settings merged from the two files, and how
one setting is read (the environment first, then the profile), as botocore does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmclient.errors import InvalidConfigError, ProfileNotFoundError

#: Each profile's settings, by profile name.
Profiles = dict[str, dict[str, Any]]


def merge_profiles(config_profiles: Profiles, credential_profiles: Profiles) -> Profiles:
    """Every profile of both files; for a key in both, the credentials file's value
    wins."""
    merged: Profiles = {name: dict(values) for name, values in config_profiles.items()}
    for name, values in credential_profiles.items():
        merged.setdefault(name, {}).update(values)
    return merged


def select_profile(
    profile: str | None,
    environ: Mapping[str, str],
    profiles: Profiles,
    *,
    files: tuple[str, str],
) -> tuple[str, dict[str, Any]]:
    """The profile's name and settings: ``profile=``, ``AWS_PROFILE``,
    ``AWS_DEFAULT_PROFILE``, else ``default`` (which may have no settings at all).
    A profile named but defined in neither of ``files`` (the config and credentials
    files, for the message) is a ``ProfileNotFoundError``."""
    named = profile or environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or None
    if named is not None and named not in profiles:
        where = "profile=" if profile else (
            "AWS_PROFILE" if environ.get("AWS_PROFILE") else "AWS_DEFAULT_PROFILE")
        raise ProfileNotFoundError(
            f"The config profile ({named}) named by {where} could not be found in "
            f"{files[0]} or {files[1]}."
        )
    name = named or "default"
    return name, profiles.get(name, {})


def setting(environ: Mapping[str, str], settings: Mapping[str, Any], env: str, key: str) -> Any:
    """A setting from the environment variable ``env``, else the profile's ``key``."""
    value = environ.get(env)
    return value if value is not None else settings.get(key)


def is_true(value: Any) -> bool:
    """botocore's ``ensure_boolean``: a bool, or a string equal to 'true' in any case."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.lower() == "true"


def as_int(value: Any, name: str) -> int | None:
    """An integer setting; None when unset, ``InvalidConfigError`` when not a number."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidConfigError(f"{name} must be an integer, got {value!r}") from None


def as_float(value: Any, name: str) -> float | None:
    """A number setting; None when unset, ``InvalidConfigError`` when not a number."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidConfigError(f"{name} must be a number, got {value!r}") from None
