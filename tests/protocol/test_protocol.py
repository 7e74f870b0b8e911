"""Edge cases of the awsJson1_1 error rule beyond the Smithy vectors."""

from __future__ import annotations

from cmclient._protocol.awsjson import error_code


def test_a_non_string_code_falls_back_to_dunder_type() -> None:
    document = {"code": 42, "__type": "com.amazonaws.comprehendmedical#ValidationException"}
    assert error_code({}, document) == "ValidationException"


def test_an_empty_header_falls_back_to_the_body() -> None:
    assert error_code({"x-amzn-errortype": ""}, {"__type": "ns#ThrottlingException"}) == (
        "ThrottlingException")


def test_no_code_anywhere_is_none() -> None:
    assert error_code({}, ["not", "an", "object"]) is None
