"""A self-signed certificate for loopback TLS servers in tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with trustme if installed, else the
    openssl command; the test is skipped when neither is available."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        import trustme
    except ImportError:
        pass
    else:
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1")
        # The server presents the leaf with its CA; a client trusting this file
        # trusts that CA.
        leaf.private_key_pem.write_to_path(str(key))
        cert.write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems)
                         + ca.cert_pem.bytes())
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("neither trustme nor the openssl command is available to make a test certificate")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )
    return cert, key
