"""Input validation as the service's front end reports it.

The generated pydantic input models already hold every length, pattern, range and
required member of the service model; this module turns their errors into Coral's
``ValidationException`` message (member path and broken rule), so the mock never keeps
a second copy of the constraints.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cmclient._generated.operations import OPERATIONS
from cmclient.models._base import RESPONSE_CONTEXT
from cmclient.testing import _wire
from cmclient.testing._faults import ServiceFault

__all__ = ["ENUM_RULE", "validate", "validation_fault"]

ENUM_RULE = "Member must satisfy enum value set: [{}]"


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:] if name else name


def _rule(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing" or (kind.endswith("_type") and error.get("input") is None):
        return "Member must not be null"
    if kind == "string_too_long":
        return f"Member must have length less than or equal to {ctx['max_length']}"
    if kind == "string_too_short":
        return f"Member must have length greater than or equal to {ctx['min_length']}"
    if kind == "string_pattern_mismatch":
        return f"Member must satisfy regular expression pattern: {ctx['pattern']}"
    if kind == "less_than_equal":
        return f"Member must have value less than or equal to {ctx['le']}"
    if kind == "greater_than_equal":
        return f"Member must have value greater than or equal to {ctx['ge']}"
    return "Member has the wrong type"


def validation_fault(problems: list[tuple[str, str]]) -> ServiceFault:
    """Coral's message: the member path and the broken rule; the value is not repeated
    (the service does, but here it could be clinical text)."""
    count = len(problems)
    details = "; ".join(f"Value at '{path}' failed to satisfy constraint: {rule}"
                        for path, rule in problems)
    return ServiceFault(
        "ValidationException",
        f"{count} validation error{'s' if count != 1 else ''} detected: {details}",
        namespace=_wire.VALIDATION_NAMESPACE,
    )


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part == "str" or part.startswith(("str-enum[", "function-")))


def validate(operation: str, request: dict[str, Any]) -> Any:
    """Check the request against the generated input model: lengths, patterns,
    ranges and required members, as the service's front end does. Unknown members
    are ignored, as AWS ignores them. Returns the parsed model."""
    model = OPERATIONS[operation].input_model
    try:
        parsed = model.model_validate(request, context=RESPONSE_CONTEXT)
    except ValidationError as exc:
        problems = []
        seen = set()
        for error in exc.errors(include_url=False):
            # Union members report once per alternative; keep the first per path.
            loc = [str(p) for p in error["loc"] if not _is_union_tag(p)]
            path = ".".join(_camel(p) for p in loc)
            if path not in seen:
                seen.add(path)
                problems.append((path, _rule(error)))
        raise validation_fault(problems) from None
    if "language_code" in model.model_fields and request.get("LanguageCode") != "en":
        raise validation_fault([("languageCode", ENUM_RULE.format("en"))])
    return parsed
