"""Loopback fakes of the AWS endpoints the credential chain talks to.

Each fake is a real HTTP server on 127.0.0.1, port 0, in a daemon thread, started
and stopped by the test (use it as a context manager). It records every request it
gets (``requests``) and answers from state the test sets:

* ``FakeImds``: EC2 instance metadata (IMDSv2 token, role name, role credentials).
* ``FakeContainer``: the ECS / EKS Pod Identity credentials endpoint.
* ``FakeSts``: STS AssumeRole / AssumeRoleWithWebIdentity (query protocol, XML).

Every credentials answer carries a fresh access key id (``ASIA...1``, ``...2``), so a
test sees exactly how many times credentials were fetched.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeServer:
    """A loopback HTTP server whose ``handle(seen) -> Reply`` subclasses define."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self.expiration = datetime.now(timezone.utc) + timedelta(hours=6)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(length) if length else b"")
                with fake._lock:
                    fake.requests.append(seen)
                reply = fake.handle(seen)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_PUT = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def next_key(self) -> str:
        with self._lock:
            return f"ASIAFAKE{next(self._counter)}"

    def fetches(self, path_part: str = "") -> int:
        with self._lock:
            return sum(1 for r in self.requests if path_part in r.path)

    def handle(self, seen: Seen) -> Reply:
        raise NotImplementedError

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class FakeImds(FakeServer):
    """EC2 instance metadata. ``token_status``: the answer to PUT /latest/api/token
    (200 gives a token; 403/404/405 make clients fall back to IMDSv1 where allowed).
    ``require_token``: GETs without the token get 401 (an IMDSv2-only instance)."""

    TOKEN = "imds-session-token"

    def __init__(self, *, role: str = "app-role", token_status: int = 200,
                 require_token: bool = True) -> None:
        super().__init__()
        self.role = role
        self.token_status = token_status
        self.require_token = require_token

    def handle(self, seen: Seen) -> Reply:
        base = "/latest/meta-data/iam/security-credentials/"
        if seen.method == "PUT" and seen.path == "/latest/api/token":
            if self.token_status != 200:
                return Reply(self.token_status)
            if "x-aws-ec2-metadata-token-ttl-seconds" not in seen.headers:
                return Reply(400)
            return Reply(200, self.TOKEN.encode())
        if seen.method != "GET":
            return Reply(405)
        if self.require_token and seen.headers.get("x-aws-ec2-metadata-token") != self.TOKEN:
            return Reply(401)
        if seen.path == base:
            return Reply(200, self.role.encode())
        if seen.path == base + self.role:
            body = {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": self.next_key(),
                    "SecretAccessKey": "imds-secret", "Token": "imds-token",
                    "Expiration": iso(self.expiration), "LastUpdated": iso(datetime.now(timezone.utc))}
            return Reply(200, json.dumps(body).encode())
        return Reply(404)


class FakeContainer(FakeServer):
    """The container credentials endpoint: GET <any path> with the expected
    Authorization header (when ``auth_token`` is set) answers the credentials JSON.
    ``status`` other than 200 makes every answer fail."""

    def __init__(self, *, auth_token: str | None = None, status: int = 200) -> None:
        super().__init__()
        self.auth_token = auth_token
        self.status = status

    def handle(self, seen: Seen) -> Reply:
        if self.status != 200:
            return Reply(self.status, b'{"message": "nope"}')
        if self.auth_token is not None and seen.headers.get("authorization") != self.auth_token:
            return Reply(401)
        body = {"AccessKeyId": self.next_key(), "SecretAccessKey": "container-secret",
                "Token": "container-token", "Expiration": iso(self.expiration)}
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


class FakeSts(FakeServer):
    """STS: AssumeRole and AssumeRoleWithWebIdentity. ``error`` (code, message,
    status) makes every call fail with an XML ErrorResponse."""

    def __init__(self, *, error: tuple[str, str, int] | None = None) -> None:
        super().__init__()
        self.error = error
        self.calls: list[dict[str, str]] = []

    def handle(self, seen: Seen) -> Reply:
        params = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
        with self._lock:
            self.calls.append(params)
        action = params.get("Action", "")
        if self.error is not None:
            code, message, status = self.error
            body = (f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
                    f"<Message>{message}</Message></Error><RequestId>req-err-1</RequestId></ErrorResponse>")
            return Reply(status, body.encode(), {"Content-Type": "text/xml"})
        if action not in ("AssumeRole", "AssumeRoleWithWebIdentity") or params.get("Version") != "2011-06-15":
            return Reply(400, b"<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>")
        key = self.next_key()
        body = (
            f'<{action}Response xmlns="{STS_NS}"><{action}Result>'
            f"<Credentials><AccessKeyId>{key}</AccessKeyId>"
            f"<SecretAccessKey>sts-secret</SecretAccessKey>"
            f"<SessionToken>sts-token</SessionToken>"
            f"<Expiration>{iso(self.expiration)}</Expiration></Credentials>"
            f"<AssumedRoleUser><Arn>{params.get('RoleArn', '')}/x</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>"
            f"</{action}Result><ResponseMetadata><RequestId>req-{key}</RequestId></ResponseMetadata>"
            f"</{action}Response>"
        )
        return Reply(200, body.encode(), {"Content-Type": "text/xml", "x-amzn-RequestId": f"req-{key}"})


# --- a temporary AWS home: real config and credentials files -------------------------

class AwsHome:
    """Real ~/.aws/config and ~/.aws/credentials under a temporary directory, and the
    environment that points at them (IMDS off unless a test turns it on, so no test
    ever reaches 169.254.169.254)."""

    def __init__(self, root: Any) -> None:
        from pathlib import Path

        self.root = Path(root)
        (self.root / ".aws").mkdir(parents=True, exist_ok=True)
        self.config_path = self.root / ".aws" / "config"
        self.credentials_path = self.root / ".aws" / "credentials"

    def config(self, text: str) -> AwsHome:
        self.config_path.write_text(text)
        return self

    def credentials(self, text: str) -> AwsHome:
        self.credentials_path.write_text(text)
        return self

    def file(self, name: str, text: str) -> str:
        path = self.root / name
        path.write_text(text)
        return str(path)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "HOME": str(self.root),
            "AWS_CONFIG_FILE": str(self.config_path),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials_path),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        env.update(extra)
        return env


def apply_env(monkeypatch: Any, env: dict[str, str]) -> None:
    """Make os.environ exactly the AWS part of ``env`` (every other AWS_* variable
    removed), for the oracle (botocore reads os.environ directly in places)."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
