"""Names as boto3 and the AWS CLI spell them, derived from the service model's names.

Shared by the code generator (method and attribute names), the CLI (commands and
flags) and the boto3-shaped compat client.
"""

from __future__ import annotations

import re

_FIRST_CAP = re.compile("(.)([A-Z][a-z]+)")
_END_CAP = re.compile("([a-z0-9])([A-Z])")
_PLURAL_ACRONYM = re.compile("[A-Z]{2,}s$")


def xform_name(name: str, sep: str = "_") -> str:
    """botocore's ``xform_name``: ``DescribeICD10CMInferenceJob`` becomes
    ``describe_icd10_cm_inference_job`` (boto3's method) or, with ``sep="-"``,
    ``describe-icd10-cm-inference-job`` (the AWS CLI's command). A name that already
    contains ``sep`` is returned unchanged."""
    if sep in name:
        return name
    special = _PLURAL_ACRONYM.search(name)
    if special is not None:
        matched = special.group()
        name = f"{name[: -len(matched)]}{sep}{matched.lower()}"
    first = _FIRST_CAP.sub(r"\1" + sep + r"\2", name)
    return _END_CAP.sub(r"\1" + sep + r"\2", first).lower()
