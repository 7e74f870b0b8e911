"""The three output formats of the AWS CLI: json, text and table.

The document printed is the one ``aws comprehendmedical`` prints: the service's member
names, members the service did not send left out, timestamps as ISO-8601 strings in
the local time zone (AWS CLI v2's default ``cli_timestamp_format``; ``+00:00`` where
TZ is UTC), no ResponseMetadata. The table format follows the AWS CLI's layout but
turns a structure too wide for the terminal into ``name | value`` rows.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from enum import Enum
from typing import IO, Any

from pydantic import BaseModel

__all__ = ["document", "plain", "write_output"]


def plain(value: Any) -> Any:
    """JSON-ready values: datetimes as ISO-8601, enums as their values."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        # AWS CLI v2 shows times in the local time zone (botocore parses with tzlocal).
        return value.astimezone().isoformat()
    if isinstance(value, Enum):
        return plain(value.value)
    return value


def document(model: BaseModel) -> dict[str, Any]:
    """A response model as the AWS CLI prints it."""
    dumped: dict[str, Any] = plain(model.model_dump(by_alias=True, exclude_none=True))
    return dumped


def write_output(data: Any, fmt: str, stream: IO[str], *, title: str) -> None:
    if fmt == "json":
        # AWS CLI v2 prints nothing for an empty response, and otherwise json.dump with
        # indent=4 and ensure_ascii=False.
        if data != {}:
            json.dump(data, stream, indent=4, ensure_ascii=False)
            stream.write("\n")
    elif fmt == "text":
        _text(data, stream)
    elif fmt == "table":
        _Table(title).render(data, stream)
    else:  # argparse has checked the choice already
        raise ValueError(fmt)


# --- text: the AWS CLI's awscli/text.py rules ------------------------------------


def _scalar(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _text(item: Any, stream: IO[str], identifier: str | None = None,
          scalar_keys: list[str] | None = None) -> None:
    if isinstance(item, dict):
        _text_dict(item, stream, identifier, scalar_keys)
    elif isinstance(item, list):
        _text_list(item, stream, identifier)
    elif item is not None:
        stream.write(_scalar(item) + "\n")


def _text_list(items: list[Any], stream: IO[str], identifier: str | None) -> None:
    if not items:
        return
    if any(isinstance(el, dict) for el in items):
        keys = sorted({k for el in items if isinstance(el, dict)
                       for k, v in el.items() if not isinstance(v, (dict, list))})
        for el in items:
            _text(el, stream, identifier, keys)
    elif any(isinstance(el, list) for el in items):
        scalars = [el for el in items if not isinstance(el, (dict, list))]
        if scalars:
            _text_scalars(scalars, stream, identifier)
        for el in items:
            if isinstance(el, (dict, list)):
                _text(el, stream, identifier)
    else:
        _text_scalars(items, stream, identifier)


def _text_scalars(items: list[Any], stream: IO[str], identifier: str | None) -> None:
    if identifier is not None:
        for item in items:
            stream.write(f"{identifier.upper()}\t{_scalar(item)}\n")
    else:
        stream.write("\t".join(_scalar(item) for item in items) + "\n")


def _text_dict(item: dict[str, Any], stream: IO[str], identifier: str | None,
               scalar_keys: list[str] | None) -> None:
    scalars: list[str] = []
    nested: list[tuple[str, Any]] = []
    if scalar_keys is None:
        for key, value in sorted(item.items()):
            if isinstance(value, (dict, list)):
                nested.append((key, value))
            else:
                scalars.append(_scalar(value))
    else:
        scalars = [_scalar(item.get(key, "")) for key in scalar_keys]
        nested = [(key, item[key]) for key in sorted(set(item) - set(scalar_keys))]
    if scalars:
        if identifier is not None:
            scalars.insert(0, identifier.upper())
        stream.write("\t".join(scalars) + "\n")
    for key, value in nested:
        _text(value, stream, key)


# --- table: the AWS CLI's layout (title, sections, header rows), simplified -------


class _Table:
    """Boxes like ``aws --output table``: a titled box per structure, a header row of
    scalar member names and a row of values, nested structures and lists indented
    one level, a lone scalar member shown as a ``name | value`` row."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.sections: list[tuple[int, str | None, list[list[str]], bool]] = []

    def render(self, data: Any, stream: IO[str]) -> None:
        if data is None or data == {} or data == []:
            return
        self._build(self.title, data, 0)
        columns = shutil.get_terminal_size((120, 24)).columns
        self.sections = [self._fit(section, columns) for section in self.sections]
        width = max(
            [len(self.title) + 4]
            + [self._section_width(rows) + 2 * indent + 2
               for indent, _, rows, _ in self.sections]
        )
        width = max(width, 20)
        for indent, title, rows, has_header in self.sections:
            self._write_section(stream, width, indent, title, rows, has_header)

    def _build(self, title: str | None, current: Any, indent: int) -> None:
        if isinstance(current, dict):
            scalars = [k for k, v in current.items() if not isinstance(v, (dict, list))]
            rest = [k for k, v in current.items() if isinstance(v, (dict, list))]
            if len(scalars) == 1:
                self.sections.append(
                    (indent, title, [[scalars[0], _scalar(current[scalars[0]])]], False))
            elif scalars:
                self.sections.append(
                    (indent, title, [scalars, [_scalar(current[k]) for k in scalars]], True))
            elif title is not None:
                self.sections.append((indent, title, [], False))
            for key in rest:
                if current[key] not in ({}, []):
                    self._build(key, current[key], indent + 1)
        elif isinstance(current, list):
            if current and all(isinstance(el, dict) for el in current):
                for el in current:
                    self._build(title, el, indent)
            else:
                rows = [[_scalar(el)] if not isinstance(el, (dict, list))
                        else [json.dumps(el, ensure_ascii=False)] for el in current]
                self.sections.append((indent, title, rows, False))
        else:
            self.sections.append((indent, title, [[_scalar(current)]], False))

    def _fit(self, section: tuple[int, str | None, list[list[str]], bool],
             columns: int) -> tuple[int, str | None, list[list[str]], bool]:
        """A header-and-values section wider than the terminal becomes one
        ``name | value`` row per member."""
        indent, title, rows, has_header = section
        if has_header and self._section_width(rows) + 2 * indent + 2 > columns:
            return indent, title, [list(pair) for pair in zip(rows[0], rows[1], strict=True)], False
        return section

    @staticmethod
    def _section_width(rows: list[list[str]]) -> int:
        if not rows:
            return 0
        columns = max(len(r) for r in rows)
        widths = [max((len(r[i]) for r in rows if i < len(r)), default=0) + 4
                  for i in range(columns)]
        return sum(widths) + columns + 1

    @staticmethod
    def _write_section(stream: IO[str], width: int, indent: int, title: str | None,
                       rows: list[list[str]], has_header: bool) -> None:
        left, right = "|" * indent, "|" * indent
        inner = width - 2 * indent
        if title is not None:
            stream.write(left + "-" * inner + right + "\n")
            stream.write(left + "|" + title.center(inner - 2) + "|" + right + "\n")
        if not rows:
            return
        columns = max(len(r) for r in rows)
        widths = [max((len(r[i]) for r in rows if i < len(r)), default=0) + 4
                  for i in range(columns)]
        spare = inner - (sum(widths) + columns + 1)
        if spare > 0:  # widen the last column to fill the box
            widths[-1] += spare
        border = left + "+" + "+".join("-" * w for w in widths) + "+" + right + "\n"
        stream.write(border)
        for number, row in enumerate(rows):
            cells = [(row[i] if i < len(row) else "") for i in range(columns)]
            if has_header and number == 0:
                text = "|".join(c.center(w) for c, w in zip(cells, widths, strict=True))
            else:
                text = "|".join(("  " + c).ljust(w) for c, w in zip(cells, widths, strict=True))
            stream.write(left + "|" + text + "|" + right + "\n")
            if has_header and number == 0:
                stream.write(border)
        stream.write(border)
