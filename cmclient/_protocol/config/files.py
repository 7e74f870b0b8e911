"""The shared config and credentials files, read as botocore reads them.

The only module of the configuration that reads anything: two small files, once, when
a client is built. A missing file reads as empty.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cmclient.errors import InvalidConfigError

#: ``{section: {key: value}}``; a value is a nested dict for an indented block.
Sections = dict[str, dict[str, Any]]


class SharedFiles:
    """What the two files hold: the config file's profiles and its ``[services ...]``
    sections, the credentials file's profiles, and the paths they were read from (as
    configured, for messages). A plain class with slots, as the cold path's records
    are (no NamedTuple or dataclass to build at import)."""

    __slots__ = (
        "config_file", "config_profiles", "credential_profiles", "credentials_file", "services",
    )

    def __init__(self, config_file: str, credentials_file: str, config_profiles: Sections,
                 services: Sections, credential_profiles: Sections) -> None:
        self.config_file = config_file
        self.credentials_file = credentials_file
        self.config_profiles = config_profiles
        self.services = services
        self.credential_profiles = credential_profiles


def read_shared_files(environ: Mapping[str, str]) -> SharedFiles:
    """Read ``AWS_CONFIG_FILE`` (else ``~/.aws/config``) and
    ``AWS_SHARED_CREDENTIALS_FILE`` (else ``~/.aws/credentials``)."""
    config_file = environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials_file = environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    config_profiles, services = split_config(read_ini(_expand(config_file)))
    return SharedFiles(config_file, credentials_file, config_profiles, services,
                       read_ini(_expand(credentials_file)))


def _expand(path: str) -> Path:
    return Path(os.path.expanduser(os.path.expandvars(path)))


def _parse_nested(value: str, path: Path) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for line in value.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, val = line.partition("=")
        if not sep:
            raise InvalidConfigError(f"Could not parse {path}: {line!r} is not 'key = value'")
        parsed[key.strip()] = val.strip()
    return parsed


def read_ini(path: Path) -> Sections:
    """Every section of an INI file as ``{section: {key: value}}``; an indented block
    under ``key =`` becomes a nested dict (the ``services`` and ``s3`` syntax). A
    missing file reads as empty."""
    if not path.is_file():
        return {}
    import configparser  # only when there is a file: a Lambda usually has none

    parser = configparser.RawConfigParser()
    try:
        parser.read([path], encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise InvalidConfigError(f"Could not parse {path}: {type(exc).__name__}") from None
    out: Sections = {}
    for section in parser.sections():
        values: dict[str, Any] = {}
        for key in parser.options(section):
            value = parser.get(section, key)
            values[key] = _parse_nested(value, path) if value.startswith("\n") else value
        out[section] = values
    return out


def _section_name(key: str) -> str | None:
    """``profile foo`` -> ``foo`` (shell-style quoting allowed, as botocore)."""
    import shlex

    try:
        parts = shlex.split(key)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 else None


def split_config(raw: Mapping[str, dict[str, Any]]) -> tuple[Sections, Sections]:
    """The config file's profiles (``[default]``, ``[profile name]``) and its
    ``[services name]`` sections."""
    profiles: Sections = {}
    services: Sections = {}
    for key, values in raw.items():
        if key.startswith("profile"):
            name = _section_name(key)
            if name is not None:
                profiles[name] = values
        elif key.startswith("services"):
            name = _section_name(key)
            if name is not None:
                services[name] = values
        elif key == "default":
            profiles[key] = values
    return profiles, services
