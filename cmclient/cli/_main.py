"""The ``cmclient`` command: one subcommand per operation, named and flagged as in
``aws comprehendmedical``, built from the operation table and the input models.

Exit codes are the AWS CLI v2's: 0 success, 130 interrupted, 252 bad command line or
parameters, 253 configuration or credentials, 254 an error from the service, 255
anything else.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import IO, Any

from cmclient import __version__
from cmclient._generated.operations import OPERATIONS
from cmclient._protocol.names import xform_name
from cmclient._protocol.operation import Operation
from cmclient.cli._base import (
    EXIT_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_OTHER,
    EXIT_PARAMS,
    EXIT_SERVICE,
    Interrupted,
    UsageError,
    _global_options,
    _isatty,
    _Parser,
    _positive_seconds,
)
from cmclient.cli._batch import COMMANDS as BATCH_COMMANDS
from cmclient.cli._documents import COMMANDS as DOCUMENT_COMMANDS
from cmclient.cli._params import BadParameter, Param, describe, params_of, read_file_arg

__all__ = ["EXIT_CONFIG", "EXIT_INTERRUPTED", "EXIT_OTHER", "EXIT_PARAMS", "EXIT_SERVICE",
           "main"]

MOCK_SERVER = "mock-server"

#: Global options that take a value, so the command can be found among the arguments.
_VALUED_GLOBALS = frozenset({
    "--region", "--endpoint-url", "--profile", "--output", "--query", "--cli-read-timeout",
    "--cli-connect-timeout",
})

COMMANDS: dict[str, Operation[Any, Any]] = {
    xform_name(name, "-"): op for name, op in sorted(OPERATIONS.items())
}


def _top_parser() -> _Parser:
    lines = [f"  {name:<38} {op.name}" for name, op in COMMANDS.items()]
    lines.append(f"  {MOCK_SERVER:<38} run the built-in mock service on loopback")
    lines += [f"  {name:<38} {summary}" for name, summary in DOCUMENT_COMMANDS.items()]
    lines += [f"  {name:<38} {summary}" for name, summary in BATCH_COMMANDS.items()]
    parser = _Parser(
        prog="cmclient",
        usage="cmclient [options] <command> [parameters]",
        description="Call AWS Comprehend Medical, as `aws comprehendmedical` does. "
                    "`cmclient <command> --help` lists a command's parameters, with their "
                    "types and limits.",
        epilog="commands:\n" + "\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cmclient {__version__}")
    _global_options(parser)
    return parser


@dataclass
class Command:
    """One subcommand: its operation, its flags, and what it can do beyond one call."""

    name: str
    operation: Operation[Any, Any]

    @cached_property
    def params(self) -> tuple[Param, ...]:
        return params_of(self.operation.input_model)

    @property
    def method(self) -> str:
        return xform_name(self.operation.name, "_")

    @property
    def is_list(self) -> bool:
        return self.method.startswith("list_") and "next_token" in {p.name for p in self.params}

    @property
    def waiter(self) -> str | None:
        """The client's ``wait_for_*`` method for start-*-job and describe-*-job."""
        for prefix in ("start_", "describe_"):
            if self.method.startswith(prefix) and self.method.endswith("_job"):
                return "wait_for_" + self.method[len(prefix):]
        return None

    def parser(self) -> _Parser:
        required = " ".join(f"{p.flag} <value>" for p in self.params if p.required)
        parser = _Parser(
            prog=f"cmclient {self.name}",
            usage=f"cmclient {self.name} {required + ' ' if required else ''}[options]",
            description=f"Call the {self.operation.name} operation "
                        f"(aws comprehendmedical {self.name}).",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        group = parser.add_argument_group("parameters")
        for param in self.params:
            group.add_argument(param.flag, dest=param.dest, metavar="<value>",
                               help=f"{param.alias}: {describe(param)}".replace("%", "%%"))
        group.add_argument("--cli-input-json", metavar="<json>",
                           help="the parameters as one JSON object with the service's member "
                                "names, inline or file://path; flags given as well win")
        if self.waiter:
            waiting = parser.add_argument_group("waiting")
            waiting.add_argument("--wait", action="store_true",
                                 help="wait until the job ends, showing its status on stderr, "
                                      "then print the job's description")
            waiting.add_argument("--wait-timeout", type=_positive_seconds, default=3600.0,
                                 metavar="<seconds>",
                                 help="give up waiting after this long (default 3600)")
            waiting.add_argument("--wait-poll-interval", type=_positive_seconds, default=5.0,
                                 metavar="<seconds>",
                                 help="seconds between status checks at first; the interval "
                                      "grows to 30 s (default 5)")
        _global_options(parser)
        return parser


def _find_command(argv: Sequence[str]) -> int | None:
    """The index of the subcommand among the arguments, skipping global option values."""
    skip = False
    for index, token in enumerate(argv):
        if skip:
            skip = False
            continue
        if token.startswith("-"):
            skip = token in _VALUED_GLOBALS
            continue
        return index
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    runner = _Runner(sys.stdout, sys.stderr)
    return runner.run(args)


class _Runner:
    def __init__(self, out: IO[str], err: IO[str]) -> None:
        self.out = out
        self.err = err
        self.debug = False
        self.redactor: Any = None

    def run(self, argv: list[str]) -> int:
        try:
            return self._run(argv)
        except UsageError as exc:
            self.err.write(exc.usage)
            self.err.write(f"cmclient: error: {exc}\n")
            return EXIT_PARAMS
        except BadParameter as exc:
            self.err.write(f"\n{exc}\n")
            return EXIT_PARAMS
        except Interrupted as exc:
            self.err.write(f"\nStopped waiting for job {exc.job_id}; the job itself goes on.\n"
                           f"To wait for it again, run:\n  {exc.resume}\n")
            return EXIT_INTERRUPTED
        except KeyboardInterrupt:
            self.err.write("\n")
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            # The reader (| head) went away: not an error worth a traceback.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except Exception as exc:
            return self._failure(exc)

    def _failure(self, exc: Exception) -> int:
        from cmclient import errors

        if self.debug:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self.err.write(self.redactor.redact(text) if self.redactor else text)
        if isinstance(exc, errors.ParamValidationError):
            self.err.write(f"\nParameter validation failed:\n{self._problems(exc)}\n")
            return EXIT_PARAMS
        if isinstance(exc, errors.ConfigurationError):
            self.err.write(f"\n{exc}\n")
            return EXIT_CONFIG
        if isinstance(exc, errors.ServiceError):
            self.err.write(f"\n{exc}\n")
            return EXIT_SERVICE
        if isinstance(exc, errors.WaiterError):
            self.err.write(f"\nWaiter failed: {exc}\n")
            return EXIT_OTHER
        message = str(exc) or type(exc).__name__
        self.err.write(f"\n{message}\n")
        return EXIT_OTHER

    def _problems(self, exc: Any) -> str:
        params = self.command.params if getattr(self, "command", None) else ()
        lines = []
        for path, rule in exc.problems:
            shown = path
            for param in params:
                for form in (f"{param.name} ({param.alias})", param.name, param.alias):
                    if path == form or path.startswith(form + "."):
                        shown = f"{param.flag} ({param.alias}){path[len(form):]}"
                        break
                else:
                    continue
                break
            lines.append(f"Invalid value for parameter {shown}: {rule}")
        return "\n".join(lines)

    # --- the command line ---------------------------------------------------------

    def _run(self, argv: list[str]) -> int:
        at = _find_command(argv)
        if at is None:
            parser = _top_parser()
            parser.parse_args(argv)  # --help and --version exit here
            parser.error("the following arguments are required: command")
        name = argv[at]
        if name == MOCK_SERVER:
            return self._mock_server(argv[at + 1:])
        if name in DOCUMENT_COMMANDS:
            from cmclient.cli._documents import run as run_document_command

            return run_document_command(name, argv[:at] + argv[at + 1:], self)
        if name in BATCH_COMMANDS:
            from cmclient.cli._batch import run as run_batch_command

            return run_batch_command(name, argv[:at] + argv[at + 1:], self)
        if name not in COMMANDS:
            choices = ", ".join([*COMMANDS, MOCK_SERVER, *DOCUMENT_COMMANDS, *BATCH_COMMANDS])
            _top_parser().error(
                f"argument command: Invalid choice '{name}', valid choices are: {choices}")
        self.command = Command(name, COMMANDS[name])
        parser = self.command.parser()
        self.parser = parser
        args = parser.parse_args(argv[:at] + argv[at + 1:])
        self.args = args
        if args.debug:
            from cmclient.cli._debug import enable_debug

            self.debug = True
            self.redactor = enable_debug(self.err)
        query = self._compile_query(args.query)
        params = self._params(args)
        if self.redactor is not None:
            self._log_call(params)
        from cmclient import ComprehendMedical

        with ComprehendMedical(**self._client_options(args)) as client:
            if self.redactor is not None:
                self._log_client(client)
            result = self._call(client, args, params)
        if query is not None:
            result = query.search(result)
        from cmclient.cli._output import write_output

        write_output(result, args.output, self.out, title=self.command.operation.name)
        self.out.flush()
        return 0

    def _mock_server(self, argv: list[str]) -> int:
        try:
            from cmclient.testing import main as mock_main
        except ImportError as exc:
            self.err.write(f"\nThe mock service is not available: {exc}\n")
            return EXIT_OTHER
        result = mock_main(argv)
        return int(result or 0)

    def _compile_query(self, expression: str | None) -> Any:
        if expression is None:
            return None
        try:
            # Imported by name: an optional dependency (cmclient[cli]) with no type stubs.
            jmespath = importlib.import_module("jmespath")
            error_type = importlib.import_module("jmespath.exceptions").JMESPathError
        except ImportError:
            raise BadParameter(
                "--query needs the jmespath package, which is not installed: "
                "pip install 'cmclient[cli]'"
            ) from None
        try:
            return jmespath.compile(expression)
        except error_type as exc:
            raise BadParameter(f"Bad value for --query {expression}: {exc}") from None

    def _params(self, args: argparse.Namespace) -> dict[str, Any]:
        """The call's keyword arguments: --cli-input-json first, then each flag."""
        params = self.command.params
        by_alias = {p.alias: p for p in params}
        values: dict[str, Any] = {}
        if args.cli_input_json is not None:
            text = read_file_arg(args.cli_input_json, "--cli-input-json")
            try:
                loaded = json.loads(text)
            except ValueError as exc:
                raise BadParameter(
                    f"Error parsing parameter '--cli-input-json': Invalid JSON: {exc}") from None
            if not isinstance(loaded, dict):
                raise BadParameter("Error parsing parameter '--cli-input-json': "
                                   "expected a JSON object")
            for key, value in loaded.items():
                if key not in by_alias:
                    raise BadParameter(
                        f'Parameter validation failed:\nUnknown parameter in input: "{key}", '
                        f"must be one of: {', '.join(by_alias)}")
                values[key] = value
        from cmclient.cli._params import parse_value

        for param in params:
            raw = getattr(args, param.dest)
            if raw is not None:
                values[param.alias] = parse_value(raw, param)
        missing = [p.flag for p in params if p.required and p.alias not in values]
        if missing:
            self.parser.error(f"the following arguments are required: {', '.join(missing)}")
        return {by_alias[alias].name: value for alias, value in values.items()}

    def _client_options(self, args: argparse.Namespace) -> dict[str, Any]:
        import httpx

        options: dict[str, Any] = {
            "region": args.region, "endpoint_url": args.endpoint_url, "profile": args.profile,
        }
        if args.cli_read_timeout is not None or args.cli_connect_timeout is not None:
            default = 10.0
            read = args.cli_read_timeout if args.cli_read_timeout is not None else default
            connect = (args.cli_connect_timeout if args.cli_connect_timeout is not None
                       else default)
            options["timeout"] = httpx.Timeout(
                default, read=read or None, connect=connect or None)
            if read == 0 or connect == 0:
                options["call_timeout"] = None  # 0 = wait as long as it takes
        return options

    def _log_call(self, params: dict[str, Any]) -> None:
        import logging

        for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            self.redactor.add(os.environ.get(name))
        shown = {}
        for key, value in params.items():
            if key == "text":
                self.redactor.add(value)
                shown[key] = f"<{len(value)} characters, redacted>"
            else:
                shown[key] = value
        log = logging.getLogger("cmclient.cli")
        log.debug("cmclient %s, Python %s", __version__, sys.version.split()[0])
        log.debug("command %s calls %s with %s", self.command.name,
                  self.command.operation.name, json.dumps(shown, default=str))

    def _log_client(self, client: Any) -> None:
        import logging

        from cmclient.cli._debug import mask_key
        from cmclient.errors import ComprehendMedicalError

        log = logging.getLogger("cmclient.cli")
        log.debug("region=%s endpoint=%s", client.region, client.endpoint_url)
        try:
            creds = client.get_credentials()
        except ComprehendMedicalError as exc:
            log.debug("no credentials yet: %s", type(exc).__name__)
            return
        self.redactor.add(creds.secret_access_key, creds.session_token)
        log.debug("credentials: access key %s%s", mask_key(creds.access_key_id),
                  " with session token" if creds.session_token else "")

    # --- the call -------------------------------------------------------------------

    def _call(self, client: Any, args: argparse.Namespace, params: dict[str, Any]) -> Any:
        from cmclient.cli._output import document

        method = getattr(client, self.command.method)
        if getattr(args, "wait", False):
            if self.command.method.startswith("start_"):
                job_id = method(**params).job_id
            else:
                job_id = params["job_id"]
            return self._wait(client, job_id)
        if self.command.is_list and not args.no_paginate:
            return self._all_pages(method, params)
        return document(method(**params))

    def _all_pages(self, method: Any, params: dict[str, Any]) -> dict[str, Any]:
        """Follow NextToken and merge the pages: lists are joined, NextToken dropped."""
        from cmclient._protocol.jobs import PageCursor
        from cmclient.cli._output import document

        merged: dict[str, Any] = {}
        cursor = PageCursor(self.command.operation.name)
        while True:
            page = document(method(**params))
            token = cursor.next_token(page.pop("NextToken", None))
            for key, value in page.items():
                if isinstance(value, list) and isinstance(merged.get(key), list):
                    merged[key].extend(value)
                else:
                    merged[key] = value
            if token is None:
                return merged
            params = {**params, "next_token": token}

    def _resume_command(self, job_id: str) -> str:
        describe = "describe-" + self.command.name.split("-", 1)[1]
        words = ["cmclient", describe, "--job-id", job_id, "--wait"]
        for flag, value in (("--region", self.args.region),
                            ("--endpoint-url", self.args.endpoint_url),
                            ("--profile", self.args.profile)):
            if value:
                words += [flag, value]
        return shlex.join(words)

    def _wait(self, client: Any, job_id: str) -> dict[str, Any]:
        from cmclient.cli._output import document, plain
        from cmclient.cli._progress import Progress
        from cmclient.errors import JobFailedError, JobStoppedError

        waiter = getattr(client, self.command.waiter or "")
        live = _isatty(self.err)
        progress = Progress(self.err, job_id, live=live)
        try:
            with progress:
                props = waiter(job_id, timeout=self.args.wait_timeout,
                               poll_interval=self.args.wait_poll_interval,
                               on_progress=progress.update)
        except KeyboardInterrupt:
            raise Interrupted(job_id, self._resume_command(job_id)) from None
        except (JobFailedError, JobStoppedError):
            # Print what the job says about itself, then report the failure.
            describe = getattr(client, "describe_" + (self.command.waiter or "")[9:])
            from cmclient.cli._output import write_output

            write_output(document(describe(job_id=job_id)), self.args.output, self.out,
                         title=self.command.operation.name)
            self.out.flush()
            raise
        return {"ComprehendMedicalAsyncJobProperties": plain(
            props.model_dump(by_alias=True, exclude_none=True))}
