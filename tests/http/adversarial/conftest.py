"""Fixtures of the adversarial HTTP suite, and the table printed at its end: for each raw
case and transport, what cmclient's two pools and aiohttp (the reference) did, on the
rows where they differ."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.tls_certs import self_signed
from tests.http.adversarial._harness import TABLE, Tls


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy variable would route the clients through httpx's pool (and to the proxy):
    these tests are about cmclient's own pools, on loopback only."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    directory: Path = tmp_path_factory.mktemp("adversarial-tls")
    cert, key = self_signed(directory)
    return Tls(cert, key)


def _rows(everything: bool) -> list[tuple[str, str, str, str, str, str]]:
    rows = []
    for (case, transport), row in sorted(TABLE.items()):
        reference = row.outcomes.get("aiohttp")
        ours = [row.outcomes.get(pool) for pool in ("sync", "async")]
        if reference is None or all(o is None for o in ours):
            continue
        if not everything and all(o is None or o.kind == reference.kind for o in ours):
            continue
        rows.append((case, transport, row.defect or "-",
                     *(o.short if o is not None else "(not run)" for o in ours),
                     reference.short))
    return rows


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """The rows where cmclient's outcome differs from aiohttp's (every row with -v)."""
    if not TABLE:
        return
    everything = config.get_verbosity() > 0
    rows = _rows(everything)
    write = terminalreporter.write_line
    terminalreporter.section("adversarial HTTP: cmclient and aiohttp, case by case"
                             if everything else
                             "adversarial HTTP: where cmclient and aiohttp differ")
    if not rows:
        write(f"none: all {len(TABLE)} case/transport rows agree")
        return
    header = ("case", "transport", "defect", "cmclient sync", "cmclient async", "aiohttp")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        write("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    write(f"({len(_rows(False))} of {len(TABLE)} case/transport rows differ; "
          "right = own answer, error = typed error / refused, wrong = another's answer)")
