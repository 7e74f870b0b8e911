"""The HTTPS sink's certificates: a local CA from ``trustme``, a leaf for 127.0.0.1, and
the CA bundle every contender is told to trust through its own normal setting.

The bundle is certifi's (what httpx and botocore load by default) with the local CA
appended, so each contender loads a bundle of the real size, as it would against AWS:
loading ~150 roots costs milliseconds and memory, and a one-certificate bundle would
hide that from every contender alike.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    server_pem: Path  # the sink's key and certificate chain
    bundle: Path  # certifi's roots and the local CA

    def env(self, how: str) -> dict[str, str]:
        """The environment that makes one kind of contender trust the local CA:
        ``aws`` (AWS_CA_BUNDLE: boto3, cmclient), ``ssl`` (SSL_CERT_FILE: httpx, and
        OpenSSL's default paths for a context from ``ssl.create_default_context``)."""
        if how == "aws":
            return {"AWS_CA_BUNDLE": str(self.bundle)}
        if how == "ssl":
            return {"SSL_CERT_FILE": str(self.bundle)}
        raise ValueError(how)


def make(folder: Path | None = None) -> Certificates:
    import certifi
    import trustme

    where = folder or Path(tempfile.mkdtemp(prefix="cmclient-bench-tls-"))
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    server_pem = where / "server.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    bundle = where / "ca-bundle.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + ca.cert_pem.bytes())
    return Certificates(server_pem, bundle)
