"""The commands for real clinical text: ``analyze-document``, ``deidentify`` and
``analyze-many``, on the clients' ``analyze_document``, ``deidentify`` and
``analyze_many``.

``cmclient analyze-document --operation detect-entities-v2 --text file://note.txt``
prints the operation's output document for a note of any length, as if the service
had taken it whole. ``cmclient deidentify --text file://note.txt [--strategy
label|mask|pseudonym]`` prints the redacted text. ``cmclient analyze-many --input
notes.jsonl --output results.jsonl`` reads one JSON object per line (``{"text": ...}``
plus any fields to carry through) and writes one per line, in input order: the
carried fields, its ``index`` (the 0-based number of the input line, blank lines not
counted) and the operation's output document as ``result`` or its ``error``
(``{"code", "message"}``). Each result line is flushed as it is written, so a run that
stops can go on where it stopped with ``--resume``, which skips the indexes already in
the output. Each command takes ``--dry-run``: what it would send and cost, sending
nothing.

The input text is never echoed: not in an error, not in the output of
``analyze-many``, not in ``--debug`` logs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from cmclient.cli._base import EXIT_PARAMS, EXIT_SERVICE, _global_options, _isatty, _Parser
from cmclient.cli._params import BadParameter, read_file_arg

__all__ = ["COMMANDS", "run"]

#: The commands and their one-line summaries, for the top-level help.
COMMANDS = {
    "analyze-document": "analyze one note of any length (split, sent, merged)",
    "deidentify": "print a note with its PHI replaced",
    "analyze-many": "analyze a JSON-lines file of notes into a JSON-lines file",
}
TEXT_OPERATIONS = ("detect-entities-v2", "detect-entities", "detect-phi", "infer-icd10-cm",
                   "infer-rx-norm", "infer-snomedct")
KEY_VARIABLE = "CMCLIENT_PSEUDONYM_KEY"


def make_client(options: Mapping[str, Any], quotas: Mapping[str, Any]) -> Any:
    """The client a command uses (a seam for tests)."""
    from cmclient import ComprehendMedical

    return ComprehendMedical(**{**options, "quotas": quotas})


# --- parsers ------------------------------------------------------------------------------


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _analysis_options(parser: argparse.ArgumentParser, *, operation: bool,
                      concurrency: int) -> None:
    group = parser.add_argument_group("analysis")
    if operation:
        group.add_argument("--operation", default="detect-entities-v2", metavar="<name>",
                           help=f"the text operation: {', '.join(TEXT_OPERATIONS)} "
                                "(default detect-entities-v2)")
    group.add_argument("--overlap", type=_count, default=0, metavar="<characters>",
                       help="characters of context carried across each cut of a long "
                            "note (default 0; carried text is billed twice)")
    group.add_argument("--max-concurrency", type=_count, default=concurrency, metavar="<n>",
                       help=f"requests in flight at once (default {concurrency})")
    group.add_argument("--max-bytes", type=_count, metavar="<bytes>",
                       help="the most UTF-8 bytes one request carries (default: the "
                            "operation's documented limit)")
    group.add_argument("--tps", type=_rate, metavar="<n>",
                       help="your account's quota for the operation, in requests per "
                            "second (default: the documented one)")
    group.add_argument("--chars-per-second", type=_rate, metavar="<n>",
                       help="your account's quota in characters per second")
    group.add_argument("--dry-run", action="store_true",
                       help="print the requests and billing units it would take; send "
                            "nothing")


def _connection_options(parser: argparse.ArgumentParser) -> None:
    """The global options without ``--output`` and ``--query``: ``analyze-many``'s
    ``--output`` is a file."""
    from cmclient.cli._base import _seconds

    group = parser.add_argument_group("global options")
    group.add_argument("--region", metavar="<region>", help="the AWS region")
    group.add_argument("--endpoint-url", metavar="<url>",
                       help="send requests to this URL instead of the region's endpoint")
    group.add_argument("--profile", metavar="<name>",
                       help="use this profile from the shared config and credentials files")
    group.add_argument("--debug", action="store_true",
                       help="log each step to stderr (secrets and text redacted)")
    group.add_argument("--cli-read-timeout", type=_seconds, metavar="<seconds>",
                       help="socket read timeout in seconds; 0 means no timeout")
    group.add_argument("--cli-connect-timeout", type=_seconds, metavar="<seconds>",
                       help="socket connect timeout in seconds; 0 means no timeout")


def _parser(name: str) -> _Parser:
    parser = _Parser(prog=f"cmclient {name}", description=COMMANDS[name],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_argument_group("parameters")
    if name in ("analyze-document", "deidentify"):
        group.add_argument("--text", required=True, metavar="<value>",
                           help="the note, or file://path to read it from (UTF-8)")
    if name == "deidentify":
        group.add_argument("--strategy", choices=("label", "mask", "pseudonym"),
                           default="label",
                           help="[NAME], ****, or [NAME-3f2a9c] (a keyed hash: needs --key)")
        group.add_argument("--key", metavar="<value>",
                           help=f"the pseudonym key, or file://path (default: "
                                f"${KEY_VARIABLE}); keep it secret and keep it the same "
                                "to get the same pseudonyms across notes")
        group.add_argument("--types", metavar="<NAME,DATE,...>",
                           help="replace only these PHI types (default: all)")
        group.add_argument("--min-score", type=float, default=0.0, metavar="<0..1>",
                           help="replace only findings at least this confident (default 0)")
        _analysis_options(parser, operation=False, concurrency=4)
        _global_options(parser)
    elif name == "analyze-document":
        _analysis_options(parser, operation=True, concurrency=4)
        _global_options(parser)
    else:
        group.add_argument("--input", required=True, metavar="<path>",
                           help='JSON lines, one {"text": ...} object a line ("-": stdin)')
        group.add_argument("--output", required=True, metavar="<path>",
                           help='where the results go, one JSON object a line ("-": stdout)')
        group.add_argument("--resume", action="store_true",
                           help="keep the output file and skip the indexes already in it")
        _analysis_options(parser, operation=True, concurrency=16)
        _connection_options(parser)
    return parser


# --- running ------------------------------------------------------------------------------


def run(name: str, argv: list[str], runner: Any) -> int:
    """Run ``name`` with its arguments; ``runner`` is the CLI's runner (its streams,
    client options and debug set-up). Errors are raised for the runner to report."""
    args = _parser(name).parse_args(argv)
    if args.debug:
        from cmclient.cli._debug import enable_debug

        runner.debug = True
        runner.redactor = enable_debug(runner.err)
        for variable in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", KEY_VARIABLE):
            runner.redactor.add(os.environ.get(variable))
    operation = _method(getattr(args, "operation", "detect-phi"))
    if name == "analyze-many":
        return _analyze_many(args, runner, operation)
    text = read_file_arg(args.text, "--text")
    if runner.redactor is not None:
        runner.redactor.add(text)
    options = _options(args)
    with make_client(runner._client_options(args), _quotas(args, operation)) as client:
        if name == "deidentify":
            key = _key(args)
            if runner.redactor is not None:
                runner.redactor.add(key)
            types = None if args.types is None else {
                t.strip() for t in args.types.split(",") if t.strip()}
            done = client.deidentify(text, strategy=args.strategy, key=key, types=types,
                                     min_score=args.min_score, **options)
            if args.dry_run:
                return _print(runner, args, _estimate_document(done))
            runner.out.write(done.text)
            if not done.text.endswith("\n"):
                runner.out.write("\n")
            runner.out.flush()
            return 0
        result = client.analyze_document(text, operation=operation, **options)
    if args.dry_run:
        return _print(runner, args, _estimate_document(result))
    from cmclient.cli._output import document

    return _print(runner, args, document(result))


def _method(name: str) -> str:
    method = name.replace("-", "_")
    if name.replace("_", "-") not in TEXT_OPERATIONS:
        raise BadParameter(f"Invalid value for --operation: {name!r}; valid values are "
                           f"{', '.join(TEXT_OPERATIONS)}")
    return method


def _options(args: argparse.Namespace) -> dict[str, Any]:
    if args.max_concurrency < 1:
        raise BadParameter("Invalid value for --max-concurrency: must be at least 1")
    return {"overlap": args.overlap, "max_concurrency": args.max_concurrency,
            "max_bytes": args.max_bytes, "dry_run": args.dry_run}


def _quotas(args: argparse.Namespace, operation: str) -> dict[str, Any]:
    from cmclient._protocol.quota import DEFAULT_QUOTAS, Quota

    if args.tps is None and args.chars_per_second is None:
        return {}
    default = DEFAULT_QUOTAS.get(operation) or Quota()
    return {operation: Quota(
        tps=args.tps if args.tps is not None else default.tps,
        chars_per_second=(args.chars_per_second if args.chars_per_second is not None
                          else default.chars_per_second))}


def _key(args: argparse.Namespace) -> str | None:
    raw = args.key if args.key is not None else os.environ.get(KEY_VARIABLE)
    if raw is None:
        if args.strategy == "pseudonym":
            raise BadParameter(f"--strategy pseudonym needs --key (or ${KEY_VARIABLE})")
        return None
    return read_file_arg(raw, "--key").rstrip("\r\n")


def _estimate_document(estimate: Any) -> dict[str, Any]:
    return {
        "Operation": estimate.operation,
        "Requests": estimate.requests,
        "Characters": estimate.characters,
        "Units": estimate.units,
        "Chunks": [{"BeginOffset": c.begin, "EndOffset": c.end,
                    "Bytes": len(c.text.encode("utf-8", "surrogatepass"))}
                   for c in estimate.chunks],
    }


def _print(runner: Any, args: argparse.Namespace, data: Any) -> int:
    from cmclient.cli._output import write_output

    query = runner._compile_query(args.query)
    if query is not None:
        data = query.search(data)
    write_output(data, args.output, runner.out, title="Estimate")
    runner.out.flush()
    return 0


# --- many notes ---------------------------------------------------------------------------


class _Lines:
    """The notes of a JSON-lines input, read lazily: each non-blank line is one index.
    A line that is not an object with a ``"text"`` string becomes ``None`` (analyze_many
    answers it with an error) and its reason is kept for the output; the other fields
    of each line are kept, by index, until its result is written."""

    def __init__(self, stream: IO[str], skip: set[int]) -> None:
        self.stream = stream
        self.skip = skip
        self.problems: dict[int, str] = {}
        self.carried: dict[int, dict[str, Any]] = {}
        self.order: deque[int] = deque()  # input indexes of the texts handed out

    def __iter__(self) -> Iterator[str | None]:
        index = -1
        for line in self.stream:
            if not line.strip():
                continue
            index += 1
            if index in self.skip:
                continue
            self.order.append(index)
            try:
                loaded = json.loads(line)
            except ValueError:
                loaded = None
            if not isinstance(loaded, dict) or not isinstance(loaded.get("text"), str):
                self.problems[index] = 'the line is not a JSON object with a "text" string'
                self.carried[index] = {}
                yield None
                continue
            text = loaded.pop("text")
            self.carried[index] = loaded
            yield text


class _LiveLine:
    """One progress line on a terminal, rewritten at most a few times a second."""

    def __init__(self, stream: IO[str], live: bool) -> None:
        self.stream = stream
        self.live = live
        self.started = time.monotonic()
        self.errors = 0
        self.skipped = 0
        self._drawn = 0.0
        self._lock = threading.Lock()

    def update(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.live or (now - self._drawn < 0.2 and done != total):
            return
        with self._lock:
            self._drawn = now
            elapsed = max(now - self.started, 1e-9)
            of = f"/{total} ({100 * done // max(total, 1)}%)" if total is not None else ""
            text = (f"analyzed {done}{of}  errors {self.errors}  "
                    f"{done / elapsed:.1f}/s  elapsed {int(elapsed)}s")
            _write(self.stream, f"\r{text}\x1b[K")

    def close(self) -> None:
        if self.live:
            _write(self.stream, "\n")


def _write(stream: IO[str], text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):  # the terminal went away
        pass


def _done_indexes(path: Path) -> set[int]:
    """The indexes already in an output file; a last line cut short by a crash is
    removed, so appending starts on a fresh line."""
    done: set[int] = set()
    if not path.exists():
        return done
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as handle:
            handle.truncate(cut)
        data = data[:cut]
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            index = json.loads(line).get("index")
        except (ValueError, AttributeError):
            continue
        if isinstance(index, int):
            done.add(index)
    return done


def _count_lines(path: Path, skip: set[int]) -> int:
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip()) - len(skip)


def _analyze_many(args: argparse.Namespace, runner: Any, operation: str) -> int:
    options = _options(args)
    dry_run = options.pop("dry_run")
    to_stdout = args.output == "-"
    output = None if to_stdout else Path(args.output)
    if args.resume and output is None:
        raise BadParameter("--resume needs an output file, not -")
    if output is not None and not args.resume and not args.dry_run and (
            output.exists() and output.stat().st_size > 0):
        raise BadParameter(f"{args.output} already has results: add --resume to go on where "
                           "it stopped, or choose another --output")
    skip = _done_indexes(output) if args.resume and output is not None else set()
    from_stdin = args.input == "-"
    try:
        source: IO[str] = sys.stdin if from_stdin else open(  # noqa: SIM115
            args.input, encoding="utf-8")
    except OSError as exc:
        raise BadParameter(f"Unable to read --input {args.input}: "
                           f"{exc.strerror or exc}") from None
    try:
        total = None if from_stdin else _count_lines(Path(args.input), skip)
        lines = _Lines(source, skip)
        texts = _Sized(lines, total) if total is not None else lines
        client = make_client(runner._client_options(args), _quotas(args, operation))
        with client:
            if dry_run:
                return _estimate_many(client, texts, operation, options, runner, lines)
            return _write_results(client, texts, operation, options, runner, lines,
                                  output, len(skip))
    finally:
        if not from_stdin:
            source.close()


class _Sized:
    """An iterable with a known length, so ``analyze_many`` reports a total."""

    def __init__(self, lines: _Lines, total: int) -> None:
        self.lines = lines
        self.total = total

    def __iter__(self) -> Iterator[str | None]:
        return iter(self.lines)

    def __len__(self) -> int:
        return self.total


def _write_results(client: Any, texts: Any, operation: str, options: dict[str, Any],
                   runner: Any, lines: _Lines, output: Path | None, skipped: int) -> int:
    from cmclient.cli._output import document

    progress = _LiveLine(runner.err, _isatty(runner.err))
    sink: IO[str] = runner.out if output is None else output.open("a", encoding="utf-8")
    written = 0
    try:
        for item in client.analyze_many(texts, operation=operation, on_progress=progress.update,
                                        **options):
            index = lines.order.popleft()
            record: dict[str, Any] = dict(lines.carried.pop(index))
            record["index"] = index
            problem = lines.problems.pop(index, None)
            if problem is not None:
                progress.errors += 1
                record["error"] = {"code": "InvalidInput", "message": problem}
            elif item.error is not None:
                progress.errors += 1
                record["error"] = {"code": getattr(item.error, "code", None)
                                   or type(item.error).__name__, "message": str(item.error)}
            else:
                record["result"] = document(item.result)
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            sink.flush()
            written += 1
    finally:
        progress.close()
        if output is not None:
            sink.close()
    summary = f"{written} texts: {written - progress.errors} analyzed, {progress.errors} errors"
    if skipped:
        summary += f", {skipped} already in the output"
    _write(runner.err, summary + "\n")
    return EXIT_SERVICE if progress.errors else 0


def _estimate_many(client: Any, texts: Any, operation: str, options: dict[str, Any],
                   runner: Any, lines: _Lines) -> int:
    totals = {"Texts": 0, "Requests": 0, "Characters": 0, "Units": 0, "Errors": 0}
    for item in client.analyze_many(texts, operation=operation, dry_run=True, **options):
        index = lines.order.popleft()
        lines.carried.pop(index, None)
        lines.problems.pop(index, None)
        totals["Texts"] += 1
        if item.error is not None:
            totals["Errors"] += 1
            continue
        totals["Requests"] += item.result.requests
        totals["Characters"] += item.result.characters
        totals["Units"] += item.result.units
    json.dump({"Operation": operation, **totals}, runner.out, indent=4)
    runner.out.write("\n")
    runner.out.flush()
    return EXIT_PARAMS if totals["Errors"] else 0
