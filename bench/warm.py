"""Section 2: the warm sync call. Microseconds per DescribeEntitiesDetectionV2Job over a
kept-alive connection, the contenders taking turns in blocks of ``calls`` calls."""

from __future__ import annotations

import time
from typing import Any

from bench import contenders
from bench.common import rotations, summary


def run(url: str, rounds: int, calls: int) -> dict[str, Any]:
    makers = {
        "cmclient": contenders.cmclient_sync,
        "floor": contenders.floor_sync,
        "boto3": contenders.boto3_sync,
        # boto3's own default wire protocol, for reference (no goal).
        "boto3_cbor": lambda url: contenders.boto3_sync(url, protocol="cbor"),
    }
    built = {name: make(url) for name, make in makers.items()}
    try:
        for call, _ in built.values():  # connect, build validators, warm caches
            for _ in range(max(20, calls // 5)):
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
