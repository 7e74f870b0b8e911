"""Which TLS context a client uses: from its ``verify=`` argument, else the CA bundle
the AWS SDKs honour (``AWS_CA_BUNDLE``, then the profile's ``ca_bundle``), else the
default verifying context. Contexts are built once per process and per bundle, and
shared (``ssl.SSLContext`` is safe to share): loading a CA bundle is one of the
costliest steps of a cold start, and httpx does it again for every client it builds.
An http endpoint (a mock on loopback) gets no context at all, so nothing is built.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from cmclient import errors

#: What ``verify=`` takes: ``True`` (verify, with the configured or default CA
#: bundle), ``False`` (do not verify: tests only), a CA bundle's path, or a context.
Verify = bool | str | ssl.SSLContext

_contexts: dict[str | None, ssl.SSLContext] = {}


def ca_bundle(environ: Mapping[str, str], settings: Mapping[str, Any]) -> str | None:
    """The CA bundle configured for the SDKs, as botocore finds it."""
    found = environ.get("AWS_CA_BUNDLE") or settings.get("ca_bundle")
    return str(found) if found else None


def tls_context(
    url: str, verify: Verify | None, configured_bundle: str | None
) -> ssl.SSLContext | None:
    """The TLS context for a client of ``url`` (``None`` for an http endpoint).
    ``verify`` wins over ``configured_bundle``, as botocore's ``verify`` argument wins
    over ``AWS_CA_BUNDLE``."""
    if not url.startswith("https:"):
        return None
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is False:
        return _unverified()
    bundle = verify if isinstance(verify, str) else configured_bundle
    return verifying_tls(bundle)


def verifying_tls(bundle: str | None = None) -> ssl.SSLContext:
    """The process's verifying context for ``bundle`` (``None``: the default, as
    httpx builds it)."""
    context = _contexts.get(bundle)
    if context is None:
        if bundle is None:
            import httpx

            context = httpx.create_ssl_context()
        else:
            try:
                context = ssl.create_default_context(cafile=bundle)
            except (OSError, ssl.SSLError) as exc:
                raise errors.ConfigurationError(
                    f"Cannot load the CA bundle {bundle!r} ({type(exc).__name__})"
                ) from None
        _contexts[bundle] = context
    return context


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
