"""The places credentials come from, each a source whose ``flow`` fetches them.

A flow returns ``Credentials``, or ``None`` when the source is not configured here (it
appends a line saying where it looked to ``misses``, for the NoCredentialsError
message); it raises when the source is configured but broken (botocore does the
same: a broken source stops the chain rather than silently falling through).
"""

from __future__ import annotations

import ipaddress
import json
import shlex
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from cmclient._protocol.config import ClientConfig, is_true
from cmclient.credentials._flow import Flow, HttpCall, ProcessResult, RunProcess, Sleep
from cmclient.credentials._time import parse_timestamp
from cmclient.credentials._types import Credentials
from cmclient.errors import CredentialRetrievalError, InvalidConfigError

Misses = list[str]
Now = Callable[[], datetime]


def _session_name() -> str:
    return f"cmclient-session-{int(time.time())}"


def _static(values: Mapping[str, Any], where: str) -> Credentials | None:
    """Static keys from a profile section; None if it has no access key id."""
    key = values.get("aws_access_key_id")
    if not key:
        return None
    secret = values.get("aws_secret_access_key")
    if not secret:
        raise InvalidConfigError(
            f"Partial credentials found in {where}: aws_secret_access_key is missing."
        )
    token = values.get("aws_session_token") or values.get("aws_security_token") or None
    return Credentials(str(key), str(secret), str(token) if token else None)


class Source:
    """One place to look. ``name`` is what botocore calls its ``METHOD``."""

    name = "source"

    def flow(self, misses: Misses) -> Flow[Credentials | None]:
        raise NotImplementedError
        yield  # pragma: no cover


class EnvSource(Source):
    """AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (or the legacy
    AWS_SECURITY_TOKEN), and AWS_CREDENTIAL_EXPIRATION when they expire."""

    name = "env"
    canonical_name = "Environment"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def flow(self, misses: Misses) -> Flow[Credentials | None]:
        env = self._environ
        key = env.get("AWS_ACCESS_KEY_ID", "")
        if not key:
            misses.append("environment variables AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY")
            return None
        secret = env.get("AWS_SECRET_ACCESS_KEY", "")
        if not secret:
            raise InvalidConfigError(
                "Partial credentials found in the environment: AWS_ACCESS_KEY_ID is set "
                "but AWS_SECRET_ACCESS_KEY is not."
            )
        token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN") or None
        expiry = env.get("AWS_CREDENTIAL_EXPIRATION")
        expiration = None
        if expiry:
            try:
                expiration = parse_timestamp(expiry)
            except ValueError:
                raise InvalidConfigError(
                    "AWS_CREDENTIAL_EXPIRATION is not an ISO-8601 timestamp") from None
        return Credentials(key, secret, token, expiration)
        yield  # pragma: no cover


class ProfileKeysSource(Source):
    """Static keys in one file's section for the profile."""

    def __init__(self, name: str, section: Mapping[str, Any] | None, where: str) -> None:
        self.name = name
        self._section = section
        self._where = where

    def flow(self, misses: Misses) -> Flow[Credentials | None]:
        creds = _static(self._section or {}, self._where)
        if creds is None:
            misses.append(f"static keys in {self._where}")
        return creds
        yield  # pragma: no cover


class ProcessSource(Source):
    """``credential_process``: run the command (no shell), read its JSON (Version 1)."""

    name = "custom-process"

    def __init__(self, command: str | None, profile: str) -> None:
        self._command = command
        self._profile = profile

    def flow(self, misses: Misses) -> Flow[Credentials | None]:
        if not self._command:
            misses.append(f"credential_process in profile {self._profile!r}")
            return None
        argv = tuple(shlex.split(self._command))
        result: ProcessResult = yield RunProcess(argv)
        if result.returncode != 0:
            stderr = result.stderr.decode("utf-8", "replace").strip()[:500]
            raise CredentialRetrievalError(
                f"credential_process of profile {self._profile!r} exited with status "
                f"{result.returncode}: {stderr}"
            )
        try:
            parsed = json.loads(result.stdout.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise CredentialRetrievalError(
                f"credential_process of profile {self._profile!r} did not print JSON"
            ) from None
        if not isinstance(parsed, dict) or parsed.get("Version") != 1:
            version = parsed.get("Version", "<none>") if isinstance(parsed, dict) else "<none>"
            raise CredentialRetrievalError(
                f"credential_process of profile {self._profile!r} printed Version "
                f"{version!r}; only Version 1 is supported"
            )
        try:
            key, secret = parsed["AccessKeyId"], parsed["SecretAccessKey"]
        except KeyError as exc:
            raise CredentialRetrievalError(
                f"credential_process of profile {self._profile!r}: missing key {exc}"
            ) from None
        expiration = None
        if parsed.get("Expiration"):
            try:
                expiration = parse_timestamp(str(parsed["Expiration"]))
            except ValueError:
                raise CredentialRetrievalError(
                    f"credential_process of profile {self._profile!r}: Expiration is not "
                    "an ISO-8601 timestamp"
                ) from None
        return Credentials(key, secret, parsed.get("SessionToken") or None, expiration)


# --- container (ECS, EKS Pod Identity) ----------------------------------------------

CONTAINER_HOST = "169.254.170.2"
_CONTAINER_ALLOWED = frozenset({CONTAINER_HOST, "169.254.170.23", "fd00:ec2::23", "localhost"})


def _container_url_allowed(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host in _CONTAINER_ALLOWED:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ContainerSource(Source):
    """AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (against http://169.254.170.2) or
    AWS_CONTAINER_CREDENTIALS_FULL_URI (loopback, the ECS / EKS Pod Identity hosts, or
    https), with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or
    AWS_CONTAINER_AUTHORIZATION_TOKEN. Three attempts, 2 s each, 1 s apart."""

    name = "container-role"
    canonical_name = "EcsContainer"

    def __init__(
        self, environ: Mapping[str, str], *, attempts: int = 3, timeout: float = 2.0,
        retry_delay: float = 1.0,
    ) -> None:
        self._environ = environ
        self._attempts = attempts
        self._timeout = timeout
        self._retry_delay = retry_delay

    def _auth_token(self) -> str | None:
        env = self._environ
        token: str | None = None
        if env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"):
            path = Path(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
            try:
                token = path.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise CredentialRetrievalError(
                    f"Could not read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {path}: "
                    f"{exc.strerror}"
                ) from None
        elif env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"):
            token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        if token is not None and ("\r" in token or "\n" in token):
            raise InvalidConfigError(
                "The container authorization token is not a legal header value")
        return token

    def flow(self, misses: Misses) -> Flow[Credentials | None]:
        env = self._environ
        if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
            url = f"http://{CONTAINER_HOST}{env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']}"
        elif env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
            url = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
            if not _container_url_allowed(url):
                raise InvalidConfigError(
                    f"AWS_CONTAINER_CREDENTIALS_FULL_URI host {urlsplit(url).hostname!r} is not "
                    "allowed: use https, a loopback address, or one of "
                    + ", ".join(sorted(_CONTAINER_ALLOWED))
                )
        else:
            misses.append("container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / "
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI)")
            return None
        headers = {"Accept": "application/json"}
        token = self._auth_token()
        if token is not None:
            headers["Authorization"] = token
        problem = ""
        for attempt in range(self._attempts):
            if attempt:
                yield Sleep(self._retry_delay)
            try:
                response = yield HttpCall(httpx.Request("GET", url, headers=headers), self._timeout)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}"
                continue
            if response.status_code != 200:
                problem = f"HTTP {response.status_code}"
                continue
            try:
                data = json.loads(response.content)
                return Credentials(
                    data["AccessKeyId"], data["SecretAccessKey"], data.get("Token") or None,
                    parse_timestamp(data["Expiration"]) if data.get("Expiration") else None,
                )
            except (ValueError, KeyError, TypeError):
                problem = "the answer is not the credentials JSON"
        safe_url = url.split("?", 1)[0]
        raise CredentialRetrievalError(
            f"Could not get credentials from the container endpoint {safe_url} after "
            f"{self._attempts} attempts: {problem}"
        )


# --- EC2 instance metadata ------------------------------------------------------------

IMDS_ENDPOINT = "http://169.254.169.254/"
IMDS_ENDPOINT_IPV6 = "http://[fd00:ec2::254]/"
_IMDS_ROLE_PATH = "latest/meta-data/iam/security-credentials/"


class ImdsSource(Source):
    """EC2 instance metadata: IMDSv2 (PUT /latest/api/token) first, then the role name
    and its credentials. IMDSv1 is used only where botocore falls back to it (the token
    request answered 403/404/405, timed out, or could not connect) and never when
    ec2_metadata_v1_disabled is set. AWS_EC2_METADATA_DISABLED=true turns it off."""

    name = "iam-role"
    canonical_name = "Ec2InstanceMetadata"

    def __init__(self, environ: Mapping[str, str], config: ClientConfig) -> None:
        self._environ = environ
        endpoint = config.ec2_metadata_service_endpoint
        if not endpoint:
            mode = (config.ec2_metadata_service_endpoint_mode or "").lower()
            endpoint = IMDS_ENDPOINT_IPV6 if mode == "ipv6" else IMDS_ENDPOINT
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self._v1_disabled = config.ec2_metadata_v1_disabled
        self._timeout = config.metadata_service_timeout
        self._attempts = config.metadata_service_num_attempts

    def _token(self) -> Flow[tuple[str | None, bool]]:
        """(token, may fall back to v1)."""
        headers = {"x-aws-ec2-metadata-token-ttl-seconds": "21600"}
        for _ in range(self._attempts):
            try:
                response = yield HttpCall(
                    httpx.Request("PUT", self.endpoint + "latest/api/token", headers=headers),
                    self._timeout,
                )
            except httpx.ReadTimeout:
                return None, True
            except httpx.TransportError:
                continue
            if response.status_code == 200:
                return response.text, True
            if response.status_code in (403, 404, 405):
                return None, True
            if response.status_code == 400:
                return None, False
        return None, True

    def _get(self, path: str, token: str | None, want_json: bool) -> Flow[httpx.Response | None]:
        headers = {"x-aws-ec2-metadata-token": token} if token else {}
        for _ in range(self._attempts):
            try:
                response = yield HttpCall(
                    httpx.Request("GET", self.endpoint + path, headers=headers), self._timeout
                )
            except httpx.TransportError:
                continue
            if response.status_code != 200 or not response.content:
                continue
            if want_json:
                try:
                    json.loads(response.content)
                except ValueError:
                    continue
            ok: httpx.Response = response
            return ok
        return None

    def flow(self, misses: Misses) -> Flow[Credentials | None]:
        where = f"EC2 instance metadata at {self.endpoint}"
        if is_true(self._environ.get("AWS_EC2_METADATA_DISABLED", "false")):
            misses.append("EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)")
            return None
        token, v1_ok = yield from self._token()
        if token is None:
            if not v1_ok:
                misses.append(f"{where}: the token request was rejected (HTTP 400)")
                return None
            if self._v1_disabled:
                misses.append(f"{where}: no IMDSv2 token, and IMDSv1 is disabled")
                return None
        role = yield from self._get(_IMDS_ROLE_PATH, token, want_json=False)
        if role is None:
            misses.append(f"{where}: no IAM role (not reachable, or no instance profile)")
            return None
        role_name = role.text.strip().splitlines()[0]
        answer = yield from self._get(_IMDS_ROLE_PATH + role_name, token, want_json=True)
        if answer is None:
            misses.append(f"{where}: no credentials for the instance role")
            return None
        data = json.loads(answer.content)
        fields = ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")
        if not isinstance(data, dict) or not all(data.get(k) for k in fields):
            misses.append(f"{where}: the instance role's answer has no credentials")
            return None
        try:
            expiration = parse_timestamp(data["Expiration"])
        except ValueError:
            misses.append(f"{where}: the credentials' Expiration is not a timestamp")
            return None
        return Credentials(data["AccessKeyId"], data["SecretAccessKey"], data["Token"], expiration)


# --- STS: web identity and AssumeRole -------------------------------------------------

class WebIdentitySource(Source):
    """AssumeRoleWithWebIdentity with the token in AWS_WEB_IDENTITY_TOKEN_FILE (or the
    profile's web_identity_token_file) for AWS_ROLE_ARN (or the profile's role_arn)."""

    name = "assume-role-with-web-identity"
    _ENV: ClassVar[dict[str, str]] = {
        "web_identity_token_file": "AWS_WEB_IDENTITY_TOKEN_FILE",
        "role_arn": "AWS_ROLE_ARN",
        "role_session_name": "AWS_ROLE_SESSION_NAME",
    }

    def __init__(
        self, environ: Mapping[str, str] | None, settings: Mapping[str, Any],
        config: ClientConfig, now: Now,
    ) -> None:
        self._environ = environ  # None: an explicit profile= ignores these variables
        self._settings = settings
        self._config = config
        self._now = now

    def _get(self, key: str) -> str | None:
        if self._environ is not None and self._ENV[key] in self._environ:
            return self._environ[self._ENV[key]]
        value = self._settings.get(key)
        return str(value) if value is not None else None

    def flow(self, misses: Misses) -> Flow[Credentials | None]:
        token_file = self._get("web_identity_token_file")
        if not token_file:
            misses.append("web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, or "
                          "web_identity_token_file in the profile)")
            return None
        role_arn = self._get("role_arn")
        if not role_arn:
            raise InvalidConfigError(
                "A web identity token file is configured but no role ARN: set AWS_ROLE_ARN "
                "or role_arn in the profile."
            )
        try:
            token = Path(token_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CredentialRetrievalError(
                f"Could not read the web identity token file {token_file}: {exc.strerror}"
            ) from None
        from cmclient.credentials import _sts  # STS and its XML only for roles

        creds = yield from _sts.assume_role_with_web_identity(
            token=token, role_arn=role_arn,
            session_name=self._get("role_session_name") or _session_name(),
            endpoint=self._config.sts_endpoint_url, region=self._config.sts_region, now=self._now,
        )
        return creds


class AssumeRoleSource(Source):
    """A profile's role_arn, assumed with the credentials of its source_profile or of
    its credential_source (Environment, Ec2InstanceMetadata, EcsContainer)."""

    name = "assume-role"

    def __init__(
        self, profile: str, config: ClientConfig, environ: Mapping[str, str], now: Now,
        visited: tuple[str, ...] = (),
    ) -> None:
        self._profile = profile
        self._config = config
        self._environ = environ
        self._now = now
        self._visited = (*visited, profile) if profile not in visited else visited

    @staticmethod
    def applies(section: Mapping[str, Any]) -> bool:
        return "role_arn" in section and "web_identity_token_file" not in section

    def _source_flow(self, section: Mapping[str, Any]) -> Flow[Credentials]:
        config = self._config
        source_profile = section.get("source_profile")
        credential_source = section.get("credential_source")
        if source_profile is not None and credential_source is not None:
            raise InvalidConfigError(
                f"The profile {self._profile!r} has both source_profile and credential_source.")
        if credential_source is not None:
            sources: dict[str, Source] = {
                "Environment": EnvSource(self._environ),
                "Ec2InstanceMetadata": ImdsSource(self._environ, config),
                "EcsContainer": ContainerSource(self._environ),
            }
            chosen = sources.get(str(credential_source))
            if chosen is None:
                raise InvalidConfigError(
                    f"The credential_source {credential_source!r} of profile {self._profile!r} "
                    "is not one of Environment, Ec2InstanceMetadata, EcsContainer.")
            misses: Misses = []
            creds = yield from chosen.flow(misses)
            if creds is None:
                raise CredentialRetrievalError(
                    f"The credential_source {credential_source} of profile {self._profile!r} "
                    f"yielded no credentials ({'; '.join(misses)}).")
            return creds
        if source_profile is None:
            raise InvalidConfigError(
                f"The profile {self._profile!r} has role_arn but neither source_profile nor "
                "credential_source.")
        name = str(source_profile)
        source = config.profiles.get(name)
        if source is None:
            raise InvalidConfigError(
                f"The source_profile {name!r} of profile {self._profile!r} does not exist.")
        has_static = "aws_access_key_id" in source or "aws_secret_access_key" in source
        if name in self._visited and (name != self._profile or not has_static):
            raise InvalidConfigError(
                f"Infinite loop in profile configuration: {' -> '.join((*self._visited, name))}")
        if has_static or not self.applies(source):
            misses = []
            for inner in profile_sources(name, config, None, self._now):
                creds = yield from inner.flow(misses)
                if creds is not None:
                    return creds
            raise InvalidConfigError(f"The source profile {name!r} must have credentials.")
        nested = AssumeRoleSource(name, config, self._environ, self._now, self._visited)
        creds = yield from nested.flow([])
        assert creds is not None
        return creds

    def flow(self, misses: Misses) -> Flow[Credentials | None]:
        section = self._config.profiles.get(self._profile, {})
        if not self.applies(section):
            misses.append(f"role_arn in profile {self._profile!r}")
            return None
        source = yield from self._source_flow(section)
        duration = section.get("duration_seconds")
        try:
            duration_s = int(duration) if duration is not None else None
        except ValueError:
            duration_s = None  # botocore ignores a non-integer duration
        from cmclient.credentials import _sts  # STS and its XML only for roles

        creds = yield from _sts.assume_role(
            source=source, role_arn=str(section["role_arn"]),
            session_name=str(section.get("role_session_name") or _session_name()),
            external_id=section.get("external_id"), duration_seconds=duration_s,
            endpoint=self._config.sts_endpoint_url, region=self._config.sts_region, now=self._now,
        )
        return creds


def profile_sources(
    profile: str, config: ClientConfig, environ: Mapping[str, str] | None, now: Now
) -> list[Source]:
    """botocore's ProfileProviderBuilder: web identity, the credentials file's keys,
    credential_process, the config file's keys. ``environ`` None: ignore the web
    identity environment variables (explicit profile, or a source_profile)."""
    settings = config.profiles.get(profile, {})
    section = "default" if profile == "default" else f"profile {profile}"
    return [
        WebIdentitySource(environ, settings, config, now),
        ProfileKeysSource(
            "shared-credentials-file", config.credentials_file_profiles.get(profile),
            f"{config.credentials_file} [{profile}]"),
        ProcessSource(settings.get("credential_process"), profile),
        ProfileKeysSource(
            "config-file", config.config_file_profiles.get(profile),
            f"{config.config_file} [{section}]"),
    ]
