"""A realistic mock of AWS Comprehend Medical, for testing code that uses it.

Like stripe-mock, it is stateful and strict: batch jobs are remembered and move
through their states on a clock the test controls, inputs are validated as the
service validates them, requests must carry a valid SigV4 signature, and errors come
back exactly as AWS sends them (status, ``__type``, ``message``,
``x-amzn-RequestId``). It answers awsJson1_1 and rpcv2Cbor, so boto3 and any other SDK
can use it as well as cmclient.

One core (``ComprehendMedicalMock.handle_request``: a request in, a response out,
no I/O) and three ways in::

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

Inside, dependencies point one way. ``_exchange`` (a request, a response, and the
``RequestHandler`` protocol) is at the bottom; the ways in (``_server`` over
``_http11``, and ``_transport``) know only that protocol. The service is ``_service``
(the controls a test turns) over ``_core`` (the request path: routing, signatures,
faults, quotas), over ``_handlers`` (the operations), which use ``_validation`` (the
front end's messages), ``_buckets`` (S3 naming rules), ``_quotas`` (text and rate
limits), ``_jobs`` and ``_clinical``.
A request that is not addressed to Comprehend Medical goes to the mock's S3
(``mock.s3``: ``_s3``, an in-memory store answering S3's object operations
path-style), or to another ``RequestHandler`` (``ComprehendMedicalMock(fallback=...)``);
``_job_files`` has jobs read their inputs from that store and write their outputs
there, as the service does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cmclient.testing._exchange import MockRequest, MockResponse, RequestHandler
    from cmclient.testing._quotas import SERVICE_CHARACTER_QUOTAS, SERVICE_QUOTAS, RateLimit
    from cmclient.testing._service import ComprehendMedicalMock

__all__ = [
    "SERVICE_CHARACTER_QUOTAS",
    "SERVICE_QUOTAS",
    "ComprehendMedicalMock",
    "MockRequest",
    "MockResponse",
    "RateLimit",
    "RequestHandler",
    "bench_throughput",
    "main",
]

# Where each lazily loaded public name lives.
_LAZY = {
    "ComprehendMedicalMock": "_service",
    "MockRequest": "_exchange",
    "MockResponse": "_exchange",
    "RequestHandler": "_exchange",
    "RateLimit": "_quotas",
    "SERVICE_QUOTAS": "_quotas",
    "SERVICE_CHARACTER_QUOTAS": "_quotas",
}


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
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        return getattr(importlib.import_module(f"cmclient.testing.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
