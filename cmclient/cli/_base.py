"""What the command line's modules share: exit codes, the global options, the
argument parser that reports errors as ``UsageError``, and small argument types."""

from __future__ import annotations

import argparse
from typing import IO, NoReturn

EXIT_INTERRUPTED = 130
EXIT_PARAMS = 252
EXIT_CONFIG = 253
EXIT_SERVICE = 254
EXIT_OTHER = 255

OUTPUT_FORMATS = ("json", "text", "table")


class UsageError(Exception):
    """A bad command line: argparse's message plus the usage line (exit 252)."""

    def __init__(self, message: str, usage: str) -> None:
        self.usage = usage
        super().__init__(message)


class Interrupted(Exception):
    """Ctrl-C while waiting for a job: the job goes on, and this says how to resume."""

    def __init__(self, job_id: str, resume: str) -> None:
        self.job_id = job_id
        self.resume = resume
        super().__init__(job_id)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())


def _global_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("global options")
    group.add_argument("--region", metavar="<region>",
                       help="the AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or "
                            "the profile's region)")
    group.add_argument("--endpoint-url", metavar="<url>",
                       help="send requests to this URL instead of the region's endpoint")
    group.add_argument("--profile", metavar="<name>",
                       help="use this profile from the shared config and credentials files")
    group.add_argument("--output", choices=OUTPUT_FORMATS, default="json",
                       help="output format: json (default), text or table")
    group.add_argument("--query", metavar="<jmespath>",
                       help="a JMESPath expression applied to the output "
                            "(needs: pip install 'cmclient[cli]')")
    group.add_argument("--debug", action="store_true",
                       help="log each step to stderr (secrets and text redacted)")
    group.add_argument("--cli-read-timeout", type=_seconds, metavar="<seconds>",
                       help="socket read timeout in seconds; 0 means no timeout")
    group.add_argument("--cli-connect-timeout", type=_seconds, metavar="<seconds>",
                       help="socket connect timeout in seconds; 0 means no timeout")
    group.add_argument("--no-paginate", action="store_true",
                       help="list commands: print the first page only, with its NextToken")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
