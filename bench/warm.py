"""Section 2: the warm sync call. Microseconds per DescribeEntitiesDetectionV2Job over a
kept-alive connection, the contenders taking turns in blocks of ``calls`` calls.

Against the loopback http sink (no delay: the client's own cost, which the goal uses)
and against the https sink (TLS, and the sink's response delay: what a caller sees;
the delay dominates, so there the ratios sit near 1). Over https each contender trusts
the local CA through its own setting (AWS_CA_BUNDLE, SSL_CERT_FILE), set in this
process's environment while it builds and calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench import contenders
from bench.common import environ, rotations, summary

Maker = Callable[[str], tuple[Callable[[], Any], Callable[[], None]]]
MAKERS: dict[str, Maker] = {
    "cmclient": contenders.cmclient_sync,
    "floor": contenders.floor_sync,
    "boto3": contenders.boto3_sync,
    # boto3's own default wire protocol, for reference (no goal).
    "boto3_cbor": lambda url: contenders.boto3_sync(url, protocol="cbor"),
}


def run(
    url: str, rounds: int, calls: int, ca_bundle: str | None = None,
    names: tuple[str, ...] = tuple(MAKERS),
) -> dict[str, Any]:
    trust = {"AWS_CA_BUNDLE": ca_bundle, "SSL_CERT_FILE": ca_bundle} if ca_bundle else {}
    with environ(**trust):
        built = {name: MAKERS[name](url) for name in names}
        try:
            for call, _ in built.values():  # connect, build validators, warm caches
                for _ in range(max(10, calls // 5)):
                    call()
            samples: dict[str, list[float]] = {name: [] for name in built}
            for order in rotations(list(built), rounds):
                for name in order:
                    call = built[name][0]
                    started = time.perf_counter()
                    for _ in range(calls):
                        call()
                    samples[name].append((time.perf_counter() - started) / calls * 1e6)
        finally:
            for _, close in built.values():
                close()
    return {name: summary(values) for name, values in samples.items()}
