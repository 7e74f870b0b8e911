"""Section 7: real clinical text against the mock (issue 13), two figures side by side.

Both run against ``cmclient.testing``'s mock in its own process (as the service is
somewhere else: neither the contenders' threads nor the mock's event loop slow the
other down), with every answer delayed by ``latency_ms`` (30 ms), as if the service
were a few milliseconds away and took some time to think.

**One long note** (``analyze_document``): a note of ``note_chars`` characters (100,000)
of clinical-looking paragraphs, analysed by ``analyze_document`` (DetectEntitiesV2)
with its chunks all in flight at once (``max_concurrency=8``; the default, 4, is shown
for reference), against the same chunks (``cmclient.text.split_text`` at the
operation's limit) sent one after another with ``detect_entities_v2``: what a caller
without ``analyze_document`` does. One sync client with ``quotas=None`` for all three,
rounds rotated, medians compared. The mock's own work (analysing each chunk) is
serial in its one thread and counts in every line, as the chunks' server time would.
With a latency this short, the work that cannot overlap (the mock's, and splitting and
merging in the client) weighs as much as the latency that concurrency saves; the
report prints the mock's CPU time and the cost of splitting beside the figure.

**Many notes** (``analyze_many``): ``notes`` short notes (1,000) through DetectEntitiesV2
with the mock limiting it to ``quota_tps`` (50) transactions per second
(``set_rate_limit``; over it: ``TooManyRequestsException``). cmclient's
``analyze_many`` (16 at a time) with ``quotas=`` set to that quota, against a plain
boto3 loop: 16 threads sharing one client with standard retries (and a pool of 16
connections, so that no thread waits for a connection) calling ``detect_entities_v2``.
Each is reported with the rate it achieved (answered notes per second), the errors
that reached the caller and the throttling answers the mock sent. The mock is reset
(buckets full, records cleared) before each contender. One run each: at 50 TPS a
contender that keeps to the quota takes 20 s.

``python -m bench.documents --serve [--latency S] [--rate-limit OP=TPS]`` is the mock's
process: it prints its URL, then answers ``reset`` and ``stats`` lines on stdin until
stdin closes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench.common import (
    ACCESS_KEY,
    PYTHON,
    REGION,
    ROOT,
    SECRET_KEY,
    child_env,
    rotations,
    summary,
)

OPERATION = "DetectEntitiesV2"
METHOD = "detect_entities_v2"
#: Chunks in flight at once for the "all at once" line: at least the chunks of a
#: 100,000-character note (six at 20,000 bytes).
DOCUMENT_CONCURRENCY = 8
#: Threads of the boto3 loop, and texts in flight in ``analyze_many``.
MANY_CONCURRENCY = 16

_SENTENCES = (
    "Patient denies chest pain but reports intermittent headache.",
    "Started lisinopril 10 mg PO daily for hypertension.",
    "No shortness of breath, fever or cough.",
    "Metformin 500 mg twice daily was continued for type 2 diabetes.",
    "Dr. Smith reviewed the chest x-ray, which was unremarkable.",
    "Vital signs were stable overnight and the patient slept well.",
    "The patient ambulated in the hallway with physical therapy.",
    "Seen on 03/14/2021 at 123 Main Street.",
    "She stopped aspirin due to nausea.",
    "Abdominal pain resolved; appetite is good.",
    "Plan discussed with the family, who agree with discharge.",
    "Le patient a été vu à l'hôpital, café au lait spots noted.",
    "Ibuprofen 400 mg every 6 hours for 5 days.",
    "Wound is clean, dry and intact without erythema.",
    "Will follow up in clinic in two weeks with a repeat ECG.",
    "Albuterol inhaler 2 puffs inhaled as needed for asthma.",
)


def clinical_note(characters: int, seed: int = 13) -> str:
    """About ``characters`` characters of clinical-looking paragraphs (3 to 8
    sentences each), the same for the same arguments."""
    rng = random.Random(seed)
    paragraphs: list[str] = []
    size = 0
    while size < characters:
        paragraph = " ".join(rng.choice(_SENTENCES) for _ in range(rng.randint(3, 8)))
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs)[:characters].rstrip()


def short_notes(count: int, seed: int = 31) -> list[str]:
    """``count`` short notes of 2 to 10 sentences (about 100 to 600 characters)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(_SENTENCES) for _ in range(rng.randint(2, 10)))
            for _ in range(count)]


# --- the mock in its own process ------------------------------------------------------

class MockProcess:
    """The mock's process: its URL, and ``reset()`` / ``stats()`` over its stdin."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self._proc = proc
        self.url = url

    def _ask(self, command: str) -> str:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        return self._proc.stdout.readline().strip()

    def reset(self) -> None:
        """Refill every rate-limit bucket and forget the recorded calls."""
        self._ask("reset")

    def stats(self) -> dict[str, Any]:
        """Since the last reset: requests answered, how many of them were throttled,
        and the CPU time the mock's process used."""
        loaded: dict[str, Any] = json.loads(self._ask("stats"))
        return loaded


@contextlib.contextmanager
def mock_process(latency_ms: float, rate_limit: float | None = None) -> Iterator[MockProcess]:
    """Start the mock in its own process (each answer ``latency_ms`` late, DetectEntitiesV2
    limited to ``rate_limit`` TPS when given); stop it afterwards."""
    args = ["--serve", "--latency", str(latency_ms / 1000)]
    if rate_limit is not None:
        args += ["--rate-limit", f"{OPERATION}={rate_limit:g}"]
    proc = subprocess.Popen(
        [PYTHON, "-m", "bench.documents", *args], cwd=ROOT, env=child_env(), text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url:
            raise RuntimeError("the mock's process did not start")
        yield MockProcess(proc, url)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _serve(latency: float, rate_limits: list[str]) -> int:
    from cmclient.testing import ComprehendMedicalMock

    mock = ComprehendMedicalMock()
    mock.set_latency(latency)
    for item in rate_limits:
        operation, tps = item.split("=")
        mock.set_rate_limit(operation, tps=float(tps))
    with mock.serve() as url:
        print(url, flush=True)
        cpu = time.process_time()
        for line in sys.stdin:
            command = line.strip()
            if command == "reset":
                mock.reset()
                cpu = time.process_time()
                print("ok", flush=True)
            elif command == "stats":
                calls = mock.calls
                throttled = sum(c.error_code == "TooManyRequestsException" for c in calls)
                print(json.dumps({"requests": len(calls), "throttled": throttled,
                                  "cpu_seconds": time.process_time() - cpu}), flush=True)
            else:
                print("?", flush=True)
    return 0


# --- the figures ------------------------------------------------------------------------

def run(p: dict[str, Any]) -> dict[str, Any]:
    """Both figures; ``p``: ``note_chars``, ``rounds``, ``notes``, ``quota_tps``,
    ``latency_ms``."""
    try:
        import cmclient.testing  # noqa: F401
    except ImportError as exc:
        return {"skipped": f"cmclient.testing is not importable ({exc})"}
    try:
        return {
            "latency_ms": p["latency_ms"],
            "document": document(p["note_chars"], p["rounds"], p["latency_ms"]),
            "many": many(p["notes"], p["quota_tps"], p["latency_ms"]),
        }
    except Exception as exc:  # report, do not sink the whole run
        return {"error": f"{type(exc).__name__}: {exc}"}


def _client(url: str, quotas: Any) -> Any:
    import cmclient

    return cmclient.ComprehendMedical(
        region=REGION, endpoint_url=url, credentials=cmclient.Credentials(ACCESS_KEY, SECRET_KEY),
        quotas=quotas,
    )


def document(note_chars: int, rounds: int, latency_ms: float) -> dict[str, Any]:
    """One long note: ``analyze_document`` against its chunks one after another."""
    from cmclient.text import split_text, text_limit

    note = clinical_note(note_chars)
    chunks = split_text(note, max_bytes=text_limit(METHOD))
    with mock_process(latency_ms) as mock:
        client = _client(mock.url, None)  # a loop of calls, not the quota, is measured
        try:
            found: dict[str, int] = {}

            def all_at_once() -> None:
                found["analyze_document"] = len(client.analyze_document(
                    note, operation=METHOD, max_concurrency=DOCUMENT_CONCURRENCY).entities or [])

            def default_concurrency() -> None:
                client.analyze_document(note, operation=METHOD)

            def one_after_another() -> None:
                found["sequential"] = sum(
                    len(client.detect_entities_v2(text=chunk.text).entities or [])
                    for chunk in chunks)

            calls: dict[str, Callable[[], None]] = {
                "analyze_document": all_at_once,
                "analyze_document_default": default_concurrency,
                "sequential": one_after_another,
            }
            for call in calls.values():  # warm up: connections, models, the mock
                call()
            samples: dict[str, list[float]] = {name: [] for name in calls}
            for order in rotations(list(calls), rounds):
                for name in order:
                    started = time.perf_counter()
                    calls[name]()
                    samples[name].append(time.perf_counter() - started)
            # Where the time goes, outside the timed rounds: the mock's own work for
            # the chunks (serial in its one thread), and splitting the note (a dry run).
            mock.reset()
            one_after_another()
            mock_cpu = mock.stats()["cpu_seconds"]
            split = []
            for _ in range(3):
                started = time.perf_counter()
                client.analyze_document(note, operation=METHOD, dry_run=True)
                split.append(time.perf_counter() - started)
        finally:
            client.close()
    result: dict[str, Any] = {name: summary(values) for name, values in samples.items()}
    result.update(note_chars=len(note), chunks=len(chunks), entities=found,
                  concurrency=DOCUMENT_CONCURRENCY, mock_cpu_seconds=round(mock_cpu, 3),
                  split_seconds=round(min(split), 3))
    return result


def many(count: int, quota_tps: float, latency_ms: float) -> dict[str, Any]:
    """Many notes under a quota: ``analyze_many`` paced by its limiter against a plain
    boto3 loop with 16 threads and standard retries."""
    notes = short_notes(count)
    result: dict[str, Any] = {"notes": count, "quota_tps": quota_tps,
                              "characters": sum(map(len, notes))}
    with mock_process(latency_ms, quota_tps) as mock:
        for name, contender in (("cmclient", _many_cmclient), ("boto3", _many_boto3)):
            mock.reset()
            time.sleep(0.2)
            started = time.perf_counter()
            answered, errors = contender(mock.url, notes, quota_tps)
            seconds = time.perf_counter() - started
            stats = mock.stats()
            result[name] = {
                "seconds": round(seconds, 2), "answered": answered, "errors": errors,
                "rate": answered / seconds, "rate_to_quota": answered / seconds / quota_tps,
                "requests": stats["requests"], "throttled": stats["throttled"],
            }
    return result


def _many_cmclient(url: str, notes: list[str], quota_tps: float) -> tuple[int, int]:
    import cmclient

    client = _client(url, {METHOD: cmclient.Quota(tps=quota_tps, chars_per_second=None)})
    answered = errors = 0
    try:
        for item in client.analyze_many(iter(notes), operation=METHOD,
                                        max_concurrency=MANY_CONCURRENCY):
            if item.error is None:
                answered += 1
            else:
                errors += 1
    finally:
        client.close()
    return answered, errors


def _many_boto3(url: str, notes: list[str], quota_tps: float) -> tuple[int, int]:
    import boto3
    import botocore.session
    from botocore.config import Config

    from bench import boto_json

    session = botocore.session.Session()
    session.set_config_variable("data_path", boto_json.data_path())  # awsJson1_1, as cmclient
    client = boto3.session.Session(botocore_session=session).client(
        "comprehendmedical", region_name=REGION, endpoint_url=url,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"mode": "standard"}, max_pool_connections=MANY_CONCURRENCY),
    )
    lock = threading.Lock()
    work = iter(notes)
    counts = {"answered": 0, "errors": 0}

    def worker() -> None:
        while True:
            with lock:
                text = next(work, None)
            if text is None:
                return
            try:
                client.detect_entities_v2(Text=text)
                outcome = "answered"
            except Exception:
                outcome = "errors"
            with lock:
                counts[outcome] += 1

    threads = [threading.Thread(target=worker) for _ in range(MANY_CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    return counts["answered"], counts["errors"]


# --- goals and report (called by bench/__main__.py) --------------------------------------

def goals(r: dict[str, Any]) -> list[tuple[str, float | None, str, float]]:
    """Issue 13's goals: (name, value, "<=" or ">=", limit)."""
    d = r.get("documents")
    if not d or "document" not in d:
        return []
    doc, many_ = d["document"], d["many"]
    ratio = doc["analyze_document"]["median"] / doc["sequential"]["median"]
    quota = many_["quota_tps"]
    return [
        (f"{doc['note_chars']:,}-char note: analyze_document / sequential", ratio, "<=", 0.3),
        (f"{many_['notes']:,} notes at {quota:g} TPS: cmclient rate / quota",
         many_["cmclient"]["rate_to_quota"], ">=", 0.9),
        (f"{many_['notes']:,} notes at {quota:g} TPS: cmclient errors surfaced",
         float(many_["cmclient"]["errors"]), "<=", 0),
    ]


def report(r: dict[str, Any]) -> list[str]:
    """The section's lines for the printed report."""
    d = r.get("documents")
    if d is None:
        return []
    lines = [f"\n7. real clinical text against the mock ({d.get('latency_ms', '?')} ms latency)"]
    if "document" not in d:
        lines.append(f"   skipped: {d.get('skipped') or d.get('error')}")
        return lines
    doc = d["document"]
    lines.append(f"   one {doc['note_chars']:,}-character note, {doc['chunks']} chunks, "
                 "DetectEntitiesV2; seconds, median (min–max)")
    names = {
        "analyze_document": f"analyze_document, {doc['concurrency']} at once",
        "analyze_document_default": "analyze_document, default concurrency",
        "sequential": "the same chunks one after another",
    }
    for key, label in names.items():
        row = doc[key]
        lines.append(f"   {label:40} {row['median']:.3f} ({row['min']:.3f}–{row['max']:.3f})")
    lines.append(f"   for reference: the mock's CPU for the chunks {doc['mock_cpu_seconds']:.3f} s "
                 "(serial, in every line),")
    lines.append(f"   splitting the note {doc['split_seconds']:.3f} s (a dry run; analyze_document "
                 "only: the sequential line gets its chunks ready-made)")
    many_ = d["many"]
    lines.append(f"   {many_['notes']:,} short notes, mock quota {many_['quota_tps']:g} TPS "
                 "(DetectEntitiesV2)")
    lines.append(f"   {'':40} {'notes/s':>8} {'x quota':>8} {'errors':>7} {'throttled':>10} "
                 f"{'seconds':>8}")
    labels = {"cmclient": "cmclient analyze_many, quotas= set",
              "boto3": "boto3, 16 threads, standard retries"}
    for key, label in labels.items():
        row = many_[key]
        lines.append(f"   {label:40} {row['rate']:>8.1f} {row['rate_to_quota']:>8.3f} "
                     f"{row['errors']:>7} {row['throttled']:>10} {row['seconds']:>8.1f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.documents", description=__doc__)
    parser.add_argument("--serve", action="store_true", help="run the mock's process")
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--rate-limit", action="append", default=[], metavar="OP=TPS")
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args.latency, args.rate_limit)
    result = {"documents": run({"note_chars": 100_000, "rounds": 5, "notes": 1000,
                                "quota_tps": 50.0, "latency_ms": 30.0})}
    print("\n".join(report(result)))
    for name, value, op, limit in goals(result):
        print(f"   {name}: {value:.3f} {op} {limit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
