"""A minimal HTTP/1.1 keep-alive sink: every request gets one fixed, valid answer.

Run as ``python -m bench.sink [--tls PEM] [--delay-ms MS]``: it prints its port on
stdout and serves until its standard input closes (so it dies with the benchmark). A
separate process, so that the server never competes with the measured client for the
GIL. With ``--tls`` it speaks HTTPS, presenting the key and certificate chain in PEM
(``bench.tls`` makes them with a local CA); with ``--delay-ms`` each response leaves
that long after its request arrived, as if the service were a few milliseconds away
(responses to pipelined requests keep their order).

awsJson1_1 requests (``POST /``) get the DescribeEntitiesDetectionV2Job JSON document;
rpcv2Cbor requests (``POST /service/...``) get the same document in CBOR, so boto3 can
also be measured with its default protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import socket
import ssl
import sys

REQUEST_ID = "b3b6c1a0-5a4e-4b7e-9a51-0d7a1f0c2a11"

JOB = {
    "JobId": "0123456789abcdef0123456789abcdef",
    "JobName": "bench-job",
    "JobStatus": "COMPLETED",
    "Message": "done",
    "SubmitTime": 1714000000.123,
    "EndTime": 1714000600.456,
    "ExpirationTime": 1714600000,
    "InputDataConfig": {"S3Bucket": "bench-in", "S3Key": "notes/"},
    "OutputDataConfig": {"S3Bucket": "bench-out", "S3Key": "results/"},
    "LanguageCode": "en",
    "DataAccessRoleArn": "arn:aws:iam::123456789012:role/bench",
    "ManifestFilePath": "s3://bench-out/results/Manifest",
    "KMSKey": "arn:aws:kms:us-east-1:123456789012:key/bench",
    "ModelVersion": "2.4.0",
}
DOCUMENT = {"ComprehendMedicalAsyncJobProperties": JOB}
JSON_BODY = json.dumps(DOCUMENT, separators=(",", ":")).encode()


def _response(body: bytes, content_type: str, extra: str = "") -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\n"
        f"Content-Type: {content_type}\r\n"
        f"x-amzn-RequestId: {REQUEST_ID}\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


def _cbor_body() -> bytes | None:
    try:
        import cbor2
    except ImportError:
        return None
    job = dict(JOB)
    for key in ("SubmitTime", "EndTime", "ExpirationTime"):
        job[key] = dt.datetime.fromtimestamp(job[key], dt.timezone.utc)
    document = {"ComprehendMedicalAsyncJobProperties": job}
    return bytes(cbor2.dumps(document, datetime_as_timestamp=True))


JSON_RESPONSE = _response(JSON_BODY, "application/x-amz-json-1.1")
_CBOR = _cbor_body()
CBOR_RESPONSE = (
    _response(_CBOR, "application/cbor", "smithy-protocol: rpc-v2-cbor\r\n") if _CBOR else None
)


class SinkProtocol(asyncio.Protocol):
    """Parses just enough HTTP/1.1: the request line, Content-Length, the body."""

    #: Seconds between a request's arrival and its response (set by ``main``).
    delay = 0.0

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        out = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            length = 0
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lower.find(b"\r\n", at + 2)
                length = int(lower[at + 17 : stop if stop >= 0 else None])
            total = end + 4 + length
            if len(buffer) < total:
                break
            cbor = head.startswith(b"POST /service/") and CBOR_RESPONSE is not None
            out.append(CBOR_RESPONSE if cbor else JSON_RESPONSE)
            buffer = buffer[total:]
        self.buffer = buffer
        if out and self.transport is not None:
            data = b"".join(out) if len(out) > 1 else out[0]
            if self.delay > 0:
                asyncio.get_running_loop().call_later(self.delay, self._send, data)
            else:
                self.transport.write(data)

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


async def _serve(port: int, tls: ssl.SSLContext | None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        SinkProtocol, "127.0.0.1", port, backlog=1024, ssl=tls
    )
    sys.stdout.write(f"{server.sockets[0].getsockname()[1]}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    # Stop when the parent closes our stdin (or dies).
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not os.read(0, 1024) else None)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sink")
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--tls", metavar="PEM", help="serve HTTPS with this key and chain")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    SinkProtocol.delay = args.delay_ms / 1000
    tls = None
    if args.tls:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls)
    asyncio.run(_serve(args.port, tls))


if __name__ == "__main__":
    main()
