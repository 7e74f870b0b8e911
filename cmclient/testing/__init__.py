"""A realistic mock of AWS Comprehend Medical, for testing code that uses it.

Like stripe-mock, it is stateful and strict: batch jobs are remembered and move
through their states on a clock the test controls, inputs are validated as the
service validates them, requests must carry a valid SigV4 signature, and errors come
back exactly as AWS sends them (status, ``__type``, ``message``,
``x-amzn-RequestId``). It answers awsJson1_1 and rpcv2Cbor, so boto3 and any other SDK
can use it as well as cmclient.

One core (``ComprehendMedicalMock.handle``: a request in, a response out) and three
ways in::

    mock = ComprehendMedicalMock()

    # 1. in-process, no sockets
    httpx.Client(transport=mock.transport())          # or httpx.AsyncClient
    mock.install_respx(respx_router)

    # 2. a loopback HTTP/1.1 server (boto3, other languages, subprocesses)
    with mock.serve() as url: ...
    #    python -m cmclient.testing --port 0   (prints the URL as its first line)

    # 3. pytest fixtures, registered automatically: comprehend_medical_mock and
    #    comprehend_medical (a ComprehendMedical client wired to the mock)

CBOR needs the optional extra ``cmclient[mock]`` (cbor2); it is imported only when a
CBOR request arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cmclient.testing._service import SERVICE_QUOTAS, ComprehendMedicalMock, MockResponse

__all__ = [
    "SERVICE_QUOTAS",
    "ComprehendMedicalMock",
    "MockResponse",
    "bench_throughput",
    "main",
]


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m cmclient.testing`` and ``cmclient mock-server``."""
    from cmclient.testing._cli import main as run

    return run(argv)


def bench_throughput(**kwargs: Any) -> dict[str, float]:
    """Measure the loopback server's throughput; see ``cmclient.testing._bench``."""
    from cmclient.testing._bench import bench_throughput as run

    return run(**kwargs)


def __getattr__(name: str) -> Any:
    # Loaded on first use, so the pytest plugin (a submodule) costs nothing at startup.
    if name in ("SERVICE_QUOTAS", "ComprehendMedicalMock", "MockResponse"):
        from cmclient.testing import _service

        return getattr(_service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
