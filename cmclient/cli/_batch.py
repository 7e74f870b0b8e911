"""The batch job commands: ``run-batch`` and ``job-results``, on the clients'
``upload_documents``, ``start_*_job``, ``wait_for_*_job`` and ``job_results``.

``cmclient run-batch --input-dir notes/ --bucket B --input-prefix in/ --output-prefix
out/ --kind entities-v2 --role-arn ARN`` uploads every file under ``notes/`` (hidden
files skipped; a note over 40,000 bytes split into parts, joined back in the results)
and starts the job; it prints the job's id and locations. With ``--wait`` it then
waits for the job (its status on stderr, one line rewritten in place on a terminal, as
``--wait`` does elsewhere) and reads its results, as ``job-results`` does.

``cmclient job-results --job-id ID --kind entities-v2`` reads a finished job's
results. With ``--output-dir DIR`` it writes one JSON file per input document,
``DIR/<input name>.json`` (the real-time operation's output document, AWS names), and
prints a summary (job, status, the Manifest's figures, the unprocessed documents with
their reasons); without it, it prints one JSON line per document
(``{"InputName", "Result"}``, then ``{"InputName", "Error"}`` for each unprocessed one)
and the summary on stderr. The exit code is 254 when the job left documents
unprocessed (PARTIAL_SUCCESS): the others' results are written all the same.

S3 requests go to ``--s3-endpoint-url``, else where the SDKs' rules find S3
(AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's ``services`` section, else S3's
regional endpoint). Documents' text is never printed, logged or put in an error.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from cmclient.cli._base import (
    EXIT_SERVICE,
    Interrupted,
    _global_options,
    _isatty,
    _Parser,
    _positive_seconds,
)
from cmclient.cli._params import BadParameter

__all__ = ["COMMANDS", "run"]

#: The commands and their one-line summaries, for the top-level help.
COMMANDS = {
    "run-batch": "upload notes, run a batch job on them, read its results",
    "job-results": "read a finished batch job's results from S3",
}
KINDS = ("entities-v2", "phi", "icd10-cm", "rx-norm", "snomedct")


def make_client(options: Mapping[str, Any]) -> Any:
    """The client a command uses (a seam for tests)."""
    from cmclient import ComprehendMedical

    return ComprehendMedical(**options)


# --- parsers ------------------------------------------------------------------------------


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _parser(name: str) -> _Parser:
    parser = _Parser(prog=f"cmclient {name}", description=COMMANDS[name],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_argument_group("parameters")
    group.add_argument("--kind", required=True, choices=KINDS,
                       help="the job's kind: what it detects or infers")
    if name == "run-batch":
        group.add_argument("--input-dir", required=True, metavar="<path>",
                           help="the notes: every file under it (hidden ones skipped), "
                                "named by its path relative to it")
        group.add_argument("--bucket", required=True, metavar="<name>",
                           help="the S3 bucket the notes are uploaded to")
        group.add_argument("--input-prefix", required=True, metavar="<prefix>",
                           help="the key prefix they are uploaded under (a folder such as "
                                "in/); the job reads everything under it")
        group.add_argument("--output-prefix", required=True, metavar="<prefix>",
                           help="the key prefix the job writes its results under")
        group.add_argument("--output-bucket", metavar="<name>",
                           help="the bucket the job writes to (default: --bucket)")
        group.add_argument("--role-arn", required=True, metavar="<arn>",
                           help="the IAM role the service assumes to read and write S3")
        group.add_argument("--language-code", default="en", metavar="<code>",
                           help="the notes' language (default en)")
        group.add_argument("--kms-key", metavar="<key>",
                           help="the KMS key the job encrypts its results with")
        group.add_argument("--job-name", metavar="<name>", help="a name for the job")
    else:
        group.add_argument("--job-id", required=True, metavar="<id>", help="the job's id")
    group.add_argument("--output-dir", metavar="<path>",
                       help="write one JSON file of results per document here "
                            "(default: JSON lines on stdout)")
    group.add_argument("--max-concurrency", type=_count, default=16, metavar="<n>",
                       help="S3 requests in flight at once (default 16)")
    group.add_argument("--s3-endpoint-url", metavar="<url>",
                       help="send S3 requests to this URL, path-style (default: "
                            "AWS_ENDPOINT_URL_S3, ..., else S3's regional endpoint)")
    waiting = parser.add_argument_group("waiting")
    waiting.add_argument("--wait", action="store_true",
                         help="wait until the job ends, showing its status on stderr, then "
                              "read its results" if name == "run-batch" else
                              "wait for the job to end first, showing its status on stderr")
    waiting.add_argument("--wait-timeout", type=_positive_seconds, default=3600.0,
                         metavar="<seconds>",
                         help="give up waiting after this long (default 3600)")
    waiting.add_argument("--wait-poll-interval", type=_positive_seconds, default=5.0,
                         metavar="<seconds>",
                         help="seconds between status checks at first; the interval grows "
                              "to 30 s (default 5)")
    _global_options(parser)
    return parser


# --- running ------------------------------------------------------------------------------


def run(name: str, argv: list[str], runner: Any) -> int:
    """Run ``name`` with its arguments; ``runner`` is the CLI's runner (its streams,
    client options and debug set-up). Errors are raised for the runner to report."""
    args = _parser(name).parse_args(argv)
    runner.args = args
    if args.debug:
        from cmclient.cli._debug import enable_debug

        runner.debug = True
        runner.redactor = enable_debug(runner.err)
        for variable in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            runner.redactor.add(os.environ.get(variable))
    query = runner._compile_query(args.query)
    documents = _read_dir(Path(args.input_dir)) if name == "run-batch" else None
    options = {**runner._client_options(args), "s3_endpoint_url": args.s3_endpoint_url}
    with make_client(options) as client:
        if documents is not None:
            job_id = _start(client, args, documents, runner)
            if not args.wait:
                return 0
        else:
            job_id = args.job_id
        if args.wait:
            _wait(client, args, job_id, runner)
        output = client.job_results(job_id, kind=args.kind, max_concurrency=args.max_concurrency)
        return _write_results(output, args, runner, query)


def _read_dir(folder: Path) -> list[tuple[str, bytes]]:
    """Every file under ``folder`` as (name relative to it, bytes), in name order;
    hidden files and folders are skipped."""
    if not folder.is_dir():
        raise BadParameter(f"--input-dir {folder} is not a directory")
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        try:
            found.append((relative.as_posix(), path.read_bytes()))
        except OSError as exc:
            raise BadParameter(f"Unable to read {path}: {exc.strerror or exc}") from None
    if not found:
        raise BadParameter(f"--input-dir {folder} has no files to upload")
    return found


def _start(client: Any, args: argparse.Namespace, documents: list[tuple[str, bytes]],
           runner: Any) -> str:
    from cmclient._protocol.batch import batch_kind
    from cmclient._protocol.names import xform_name
    from cmclient.cli._output import write_output

    found = batch_kind(args.kind, operation_name="run-batch")
    config = client.upload_documents(documents, bucket=args.bucket, prefix=args.input_prefix,
                                     max_concurrency=args.max_concurrency)
    where = f"s3://{config.s3_bucket}/{config.s3_key or ''}"
    _note(runner.err, f"Uploaded {len(documents)} documents to {where}\n")
    output: dict[str, Any] = {"S3Bucket": args.output_bucket or args.bucket}
    if args.output_prefix:
        output["S3Key"] = args.output_prefix
    params = {"input_data_config": config, "output_data_config": output,
              "data_access_role_arn": args.role_arn, "language_code": args.language_code,
              "kms_key": args.kms_key, "job_name": args.job_name}
    start = getattr(client, f"start_{xform_name(found.job)}")
    job_id: str = start(**{k: v for k, v in params.items() if v is not None}).job_id
    if not args.wait:
        write_output({"JobId": job_id, "InputDataConfig": config.model_dump(
            by_alias=True, exclude_none=True), "OutputDataConfig": output},
            args.output, runner.out, title=found.start_operation)
        runner.out.flush()
        _note(runner.err, f"When it ends, read its results with:\n  "
                          f"{_resume(args, job_id)}\n")
    return job_id


def _resume(args: argparse.Namespace, job_id: str) -> str:
    words = ["cmclient", "job-results", "--job-id", job_id, "--kind", args.kind, "--wait"]
    for flag, value in (("--output-dir", args.output_dir),
                        ("--s3-endpoint-url", args.s3_endpoint_url),
                        ("--region", args.region), ("--endpoint-url", args.endpoint_url),
                        ("--profile", args.profile)):
        if value:
            words += [flag, value]
    return shlex.join(words)


def _wait(client: Any, args: argparse.Namespace, job_id: str, runner: Any) -> None:
    from cmclient._protocol.batch import batch_kind
    from cmclient._protocol.names import xform_name
    from cmclient.cli._progress import Progress

    waiter = getattr(client, f"wait_for_{xform_name(batch_kind(args.kind).job)}")
    progress = Progress(runner.err, job_id, live=_isatty(runner.err))
    try:
        with progress:
            waiter(job_id, timeout=args.wait_timeout, poll_interval=args.wait_poll_interval,
                   on_progress=progress.update)
    except KeyboardInterrupt:
        raise Interrupted(job_id, _resume(args, job_id)) from None


class _Count:
    """Results read so far, on one line of a terminal rewritten in place."""

    def __init__(self, stream: IO[str], total: int | None) -> None:
        self.stream = stream
        self.live = _isatty(stream)
        self.total = total
        self.done = 0

    def add(self) -> None:
        self.done += 1
        if self.live and (self.done % 50 == 0 or self.done == self.total):
            of = f"/{self.total}" if self.total is not None else ""
            _note(self.stream, f"\rread {self.done}{of} results\x1b[K")

    def close(self) -> None:
        if self.live and self.done:
            _note(self.stream, "\n")


def _write_results(output: Any, args: argparse.Namespace, runner: Any, query: Any) -> int:
    from cmclient.cli._output import document, write_output

    manifest = output.manifest.summary if output.manifest is not None else None
    count = _Count(runner.err, getattr(manifest, "success_files_count", None))
    folder = Path(args.output_dir) if args.output_dir else None
    written = 0
    try:
        for item in output.iter_results():
            if folder is not None:
                target = _result_path(folder, item.input_name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(document(item.result), indent=4,
                                             ensure_ascii=False) + "\n", encoding="utf-8")
            else:
                runner.out.write(json.dumps({"InputName": item.input_name,
                                             "Result": document(item.result)},
                                            ensure_ascii=False) + "\n")
            written += 1
            count.add()
    finally:
        count.close()
    unprocessed = [{"InputName": u.input_name, "ErrorCode": u.error_code,
                    "ErrorMessage": u.error_message} for u in output.unprocessed]
    summary: dict[str, Any] = {
        "JobId": output.job_id,
        "JobStatus": output.status,
        "Kind": output.kind.kind,
        "OutputLocation": f"s3://{output.location.bucket}/{output.location.folder}",
        "Documents": written,
        "Unprocessed": unprocessed,
    }
    if manifest is not None:
        summary["Manifest"] = document(manifest)
    if folder is not None:
        summary["OutputDir"] = str(folder)
        data: Any = query.search(summary) if query is not None else summary
        write_output(data, args.output, runner.out, title="JobResults")
    else:
        for entry in unprocessed:
            runner.out.write(json.dumps({"InputName": entry["InputName"], "Error": {
                "Code": entry["ErrorCode"], "Message": entry["ErrorMessage"]}},
                ensure_ascii=False) + "\n")
        _note(runner.err, f"Job {output.job_id} {output.status}: {written} documents, "
                          f"{len(unprocessed)} unprocessed\n")
    runner.out.flush()
    return EXIT_SERVICE if unprocessed else 0


def _result_path(folder: Path, input_name: str) -> Path:
    """Where a document's results go: ``folder/<input name>.json``. A name that could
    step out of the folder (an empty, '.' or '..' segment, a leading '/') is written
    flat, percent-encoded: names come from S3 keys, which anyone may have written."""
    parts = input_name.split("/")
    if any(part in ("", ".", "..") for part in parts) or "\\" in input_name:
        return folder / (quote(input_name, safe="") + ".json")
    return folder.joinpath(*parts[:-1], parts[-1] + ".json")


def _note(stream: IO[str], text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):  # the terminal went away
        pass
