"""The mock server's command line.

``python -m cmclient.testing [--host 127.0.0.1] [--port 0] [--region R]
[--job-duration SECONDS] [--credentials AKID:SECRET ...] [--rate-limits aws]
[--latency SECONDS] [--read-timeout SECONDS]`` prints the server's URL
as its first line of output (flushed) and serves until SIGTERM or Ctrl-C, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable

from cmclient.testing._server import DEFAULT_READ_TIMEOUT, run
from cmclient.testing._service import ComprehendMedicalMock


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cmclient.testing",
        description="Run a mock AWS Comprehend Medical service on a loopback address.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--region", default="us-east-1", help="the region served (us-east-1)")
    parser.add_argument("--job-duration", type=float, default=60.0, metavar="SECONDS",
                        help="seconds a batch job runs before COMPLETED (60)")
    parser.add_argument("--credentials", action="append", default=None,
                        metavar="AKID:SECRET",
                        help="accept only this key pair and verify signatures (repeatable)")
    parser.add_argument("--rate-limits", choices=["aws"], default=None,
                        help="throttle at the service's default quotas")
    parser.add_argument("--latency", type=_seconds(zero=True), default=0.0, metavar="SECONDS",
                        help="seconds added to every answer (0)")
    parser.add_argument("--read-timeout", type=_seconds(zero=False),
                        default=DEFAULT_READ_TIMEOUT, metavar="SECONDS",
                        help="seconds a request may stall mid-way before it is answered 408 "
                             f"({DEFAULT_READ_TIMEOUT:g})")
    return parser


def _seconds(*, zero: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        if not (value >= 0 if zero else value > 0) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"out of range: {text!r}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    credentials = None
    if args.credentials:
        credentials = {}
        for pair in args.credentials:
            key, sep, secret = pair.partition(":")
            if not sep or not key or not secret:
                _parser().error("--credentials takes AKID:SECRET")
            credentials[key] = secret
    mock = ComprehendMedicalMock(region=args.region, credentials=credentials,
                                 job_duration=args.job_duration,
                                 rate_limits=args.rate_limits, latency=args.latency)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):  # Windows
                loop.add_signal_handler(signum, stop.set)

        def ready(url: str) -> None:
            print(url, flush=True)

        await run(mock, args.host, args.port, ready, stop, read_timeout=args.read_timeout)

    with contextlib.suppress(KeyboardInterrupt):  # where signal handlers are unavailable
        asyncio.run(serve())
    sys.stdout.flush()
    return 0
