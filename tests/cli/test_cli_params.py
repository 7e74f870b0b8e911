"""The CLI's parameter layer, in-process: names, shorthand, help text, redaction, the
text and table formats."""

from __future__ import annotations

import io
import logging

import botocore.session
import pytest
from botocore import xform_name as botocore_xform_name

from cmclient._generated.operations import OPERATIONS
from cmclient._protocol.names import xform_name
from cmclient.cli._debug import Redactor, mask_key
from cmclient.cli._output import write_output
from cmclient.cli._params import BadParameter, Param, TypeInfo, params_of, parse_value
from cmclient.cli._progress import Progress


def test_names_match_botocores_xform_name_for_every_operation_and_member() -> None:
    model = botocore.session.get_session().get_service_model("comprehendmedical")
    names = set(model.operation_names) | {"GatewayARNs", "ListWebACLs", "KMSKey"}
    for op in model.operation_names:
        names.update(model.operation_model(op).input_shape.members)
    for name in names:
        for sep in ("_", "-"):
            assert xform_name(name, sep) == botocore_xform_name(name, sep), name


def test_flags_are_the_aws_clis_for_every_input_member() -> None:
    model = botocore.session.get_session().get_service_model("comprehendmedical")
    for name, op in OPERATIONS.items():
        members = model.operation_model(name).input_shape.members
        flags = {p.flag for p in params_of(op.input_model)}
        assert flags == {"--" + botocore_xform_name(m, "-") for m in members}, name
        required = {p.alias for p in params_of(op.input_model) if p.required}
        assert required == set(model.operation_model(name).input_shape.required_members)


STRUCT = Param("input_data_config", "InputDataConfig", True, TypeInfo("structure"))


@pytest.mark.parametrize(("text", "expected"), [
    ("S3Bucket=my-bucket,S3Key=notes/", {"S3Bucket": "my-bucket", "S3Key": "notes/"}),
    ("S3Bucket='a,b',S3Key=\"x=y\"", {"S3Bucket": "a,b", "S3Key": "x=y"}),
    ("A={B=c,D=[e,f]},G=h", {"A": {"B": "c", "D": ["e", "f"]}, "G": "h"}),
    ('{"S3Bucket": "b"}', {"S3Bucket": "b"}),
    ("JobStatus=COMPLETED,SubmitTimeAfter=2024-11-28T10:40:00Z",
     {"JobStatus": "COMPLETED", "SubmitTimeAfter": "2024-11-28T10:40:00Z"}),
])
def test_structure_values_read_shorthand_and_json(text: str, expected: object) -> None:
    assert parse_value(text, STRUCT) == expected


@pytest.mark.parametrize("text", ["S3Bucket", "=x", "A={B=c", '{"S3Bucket": ', "A='x"])
def test_malformed_structure_values_name_the_flag(text: str) -> None:
    with pytest.raises(BadParameter, match="--input-data-config"):
        parse_value(text, STRUCT)


def test_integer_flags_reject_words_and_files_are_read(tmp_path: object) -> None:
    number = Param("max_results", "MaxResults", False, TypeInfo("integer"))
    assert parse_value("25", number) == 25
    with pytest.raises(BadParameter, match="--max-results"):
        parse_value("many", number)
    with pytest.raises(BadParameter, match="Unable to load paramfile"):
        parse_value("file:///no/such/file", number)


def test_redactor_masks_secrets_signatures_and_text() -> None:
    redactor = Redactor()
    redactor.add("wJalrXUtnFEMI", "Jane Roe has diabetes", None, "ab")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redactor)
    log = logging.getLogger("test.redactor")
    log.addHandler(handler)
    log.propagate = False
    log.warning("key %s text %s", "wJalrXUtnFEMI", "Jane Roe has diabetes")
    log.warning("Authorization: AWS4-HMAC-SHA256 Credential=AKID/2024/us-east-1/x, "
                "SignedHeaders=host, Signature=0123abcdef")
    written = stream.getvalue()
    assert "wJalrXUtnFEMI" not in written and "Jane Roe" not in written
    assert "0123abcdef" not in written and "AKID/2024" not in written
    assert written.count("****") == 4
    assert mask_key("AKIDEXAMPLE1234") == "***********1234"


def test_text_output_follows_the_aws_clis_rules() -> None:
    stream = io.StringIO()
    write_output({"B": 2, "A": "x", "L": [{"K": 1, "J": {"Z": "z"}}, {"K": 2}], "S": ["a", "b"]},
                 "text", stream, title="T")
    assert stream.getvalue().splitlines() == [
        "x\t2", "L\t1", "J\tz", "L\t2", "S\ta", "S\tb"]


def test_table_output_is_a_box_titled_with_the_operation() -> None:
    stream = io.StringIO()
    write_output({"JobId": "abc", "Nested": {"A": "1", "B": "2"}}, "table", stream,
                 title="StopPHIDetectionJob")
    lines = stream.getvalue().splitlines()
    assert "StopPHIDetectionJob" in lines[1]
    assert len({len(line) for line in lines}) == 1
    assert any("JobId" in line and "abc" in line for line in lines)
    assert any(line.startswith("||") and "Nested" in line for line in lines)


def test_progress_in_a_pipe_writes_a_line_per_status_change() -> None:
    class Props:
        def __init__(self, status: str) -> None:
            self.job_status = status

    stream = io.StringIO()
    clock = iter([0.0, 1.0, 2.0, 65.0]).__next__
    with Progress(stream, "job1", live=False, clock=clock) as progress:
        for status in ("SUBMITTED", "SUBMITTED", "IN_PROGRESS", "COMPLETED"):
            progress.update(Props(status))
    assert stream.getvalue() == ("job1\tSUBMITTED\t0:01\njob1\tIN_PROGRESS\t0:02\n"
                                 "job1\tCOMPLETED\t1:05\n")
