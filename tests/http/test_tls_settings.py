"""Which certificates a client trusts: ``verify=``, AWS_CA_BUNDLE, the profile's
``ca_bundle`` (botocore's order), the same on both clients and in ``cmclient.compat``,
proven against a loopback TLS server whose certificate only a test CA vouches for."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmclient import AsyncComprehendMedical, ComprehendMedical, compat, errors
from cmclient._http.tls import ca_bundle, tls_context
from tests.conftest import CREDENTIALS
from tests.helpers.tls_certs import self_signed


def test_https_endpoints_share_one_verifying_context() -> None:
    first = tls_context("https://comprehendmedical.us-east-1.amazonaws.com/", None, None)
    second = tls_context("https://comprehendmedical.eu-west-2.amazonaws.com/", True, None)
    assert first is not None and first is second
    assert first.verify_mode is ssl.CERT_REQUIRED and first.check_hostname
    assert first.cert_store_stats()["x509_ca"] > 0  # the CA bundle is loaded


def test_http_endpoints_build_no_tls_context() -> None:
    assert tls_context("http://127.0.0.1:8123/", None, "/no/such/bundle.pem") is None


def test_verify_false_turns_verification_off() -> None:
    context = tls_context("https://example.invalid/", False, None)
    assert context is not None and context.verify_mode is ssl.CERT_NONE
    assert not context.check_hostname


def test_a_context_given_is_used_as_is() -> None:
    mine = ssl.create_default_context()
    assert tls_context("https://example.invalid/", mine, "/ignored.pem") is mine


def test_the_argument_wins_over_the_environment_and_the_environment_over_the_profile() -> None:
    assert ca_bundle({"AWS_CA_BUNDLE": "/env.pem"}, {"ca_bundle": "/profile.pem"}) == "/env.pem"
    assert ca_bundle({}, {"ca_bundle": "/profile.pem"}) == "/profile.pem"
    assert ca_bundle({}, {}) is None


def test_an_unreadable_bundle_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(errors.ConfigurationError, match="no-such-bundle"):
        tls_context("https://example.invalid/", "/tmp/no-such-bundle.pem", None)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An https endpoint on 127.0.0.1 answering every request with an empty
    ListEntitiesDetectionV2Jobs result, and the CA file that vouches for it."""
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(raw,), daemon=True).start()

    def answer(raw: socket.socket) -> None:
        try:
            with context.wrap_socket(raw, server_side=True) as conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                while len(body) < length:
                    body += conn.recv(65536)
                payload = json.dumps({"ComprehendMedicalAsyncJobPropertiesList": []}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
                             b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(payload), payload))
        except (OSError, ssl.SSLError):
            pass  # a client that refused our certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}", cert
    finally:
        stop.set()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() the thread waits in
        listener.close()
        thread.join(5)


def _sync(url: str, **options: object) -> int:
    with ComprehendMedical(endpoint_url=url, region="us-east-1", credentials=CREDENTIALS,
                           max_attempts=1, **options) as client:  # type: ignore[arg-type]
        return len(client.list_entities_detection_v2_jobs().comprehend_medical_async_job_properties_list)


def _async(url: str, **options: object) -> int:
    async def call() -> int:
        async with AsyncComprehendMedical(endpoint_url=url, region="us-east-1",
                                          credentials=CREDENTIALS, max_attempts=1,
                                          **options) as client:  # type: ignore[arg-type]
            result = await client.list_entities_detection_v2_jobs()
            return len(result.comprehend_medical_async_job_properties_list)
    return asyncio.run(call())


@pytest.mark.parametrize("call", [_sync, _async], ids=["sync", "async"])
def test_aws_ca_bundle_is_honoured(call, tls_server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    url, ca = tls_server
    with pytest.raises(errors.EndpointConnectionError):  # the default bundle refuses it
        call(url)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(ca))
    assert call(url) == 0


@pytest.mark.parametrize("call", [_sync, _async], ids=["sync", "async"])
def test_the_profile_ca_bundle_is_honoured(call, tls_server, tmp_path: Path,  # type: ignore[no-untyped-def]
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    url, ca = tls_server
    config = tmp_path / "config"
    config.write_text(f"[default]\nca_bundle = {ca}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert call(url) == 0


@pytest.mark.parametrize("call", [_sync, _async], ids=["sync", "async"])
def test_verify_argument_takes_a_path_false_or_a_context(call, tls_server) -> None:  # type: ignore[no-untyped-def]
    url, ca = tls_server
    assert call(url, verify=str(ca)) == 0
    assert call(url, verify=False) == 0
    assert call(url, verify=ssl.create_default_context(cafile=str(ca))) == 0
    with pytest.raises(errors.EndpointConnectionError):
        call(url, verify=True)


def test_compat_honours_verify_and_aws_ca_bundle_without_a_deprecation_warning(
    tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ca = tls_server
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = compat.client("comprehendmedical", region_name="us-east-1", endpoint_url=url,
                               aws_access_key_id="AKID", aws_secret_access_key="secret",
                               verify=str(ca))
        with client:
            assert client.list_entities_detection_v2_jobs()["ComprehendMedicalAsyncJobPropertiesList"] == []
        monkeypatch.setenv("AWS_CA_BUNDLE", str(ca))
        with compat.client("comprehendmedical", region_name="us-east-1", endpoint_url=url,
                           aws_access_key_id="AKID", aws_secret_access_key="secret") as client:
            assert client.list_entities_detection_v2_jobs()["ComprehendMedicalAsyncJobPropertiesList"] == []
