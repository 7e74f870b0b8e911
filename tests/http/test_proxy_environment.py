"""Both clients honour a proxy configured in the environment, as httpx does."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cmclient import AsyncComprehendMedical, ComprehendMedical, Credentials


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A loopback forward proxy that answers every request itself and records the
    request target it was asked for (absolute-form, as clients send proxies)."""
    targets: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            targets.append(self.path)
            body = json.dumps({"Entities": [], "ModelVersion": "1"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield targets
    finally:
        server.shutdown()
        server.server_close()


OPTIONS = {"region": "us-east-1", "endpoint_url": "http://comprehendmedical.invalid",
           "credentials": Credentials("AKID", "SECRET"), "max_attempts": 1}


def test_the_sync_client_goes_through_the_environment_proxy(proxy: list[str]) -> None:
    with ComprehendMedical(**OPTIONS) as client:  # type: ignore[arg-type]
        client.detect_phi(text="x")
    assert proxy == ["http://comprehendmedical.invalid/"]


def test_the_async_client_goes_through_the_environment_proxy(proxy: list[str]) -> None:
    async def run() -> None:
        async with AsyncComprehendMedical(**OPTIONS) as client:  # type: ignore[arg-type]
            await client.detect_phi(text="x")

    asyncio.run(run())
    assert proxy == ["http://comprehendmedical.invalid/"]
