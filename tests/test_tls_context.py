"""One verifying TLS context per process for https endpoints; none built for http."""

from __future__ import annotations

import ssl

from cmclient._http.client import tls_context


def test_https_endpoints_share_one_verifying_context() -> None:
    first = tls_context("https://comprehendmedical.us-east-1.amazonaws.com/")
    second = tls_context("https://comprehendmedical.eu-west-2.amazonaws.com/")
    assert first is not None and first is second
    assert first.verify_mode is ssl.CERT_REQUIRED and first.check_hostname
    assert first.cert_store_stats()["x509_ca"] > 0  # the CA bundle is loaded


def test_http_endpoints_build_no_tls_context() -> None:
    assert tls_context("http://127.0.0.1:8123/") is None
    assert tls_context("https://example.invalid/") is not None
