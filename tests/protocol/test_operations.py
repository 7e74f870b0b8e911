"""Every operation through respx: the wire request and the parsed result match fixtures/."""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from enum import Enum
from typing import Any

import httpx
import pytest
import respx
from botocore import xform_name
from pydantic import BaseModel

import cmclient
from cmclient import AsyncComprehendMedical, ComprehendMedical, errors, models
from cmclient._generated.operations import OPERATIONS
from tests.conftest import CREDENTIALS, ENDPOINT, FIXTURES, load_fixture

OPERATION_NAMES = sorted(OPERATIONS)


def call(mode: str, method: str, params: dict[str, Any]) -> Any:
    """Call ``method`` once (no retries: these tests are about the wire and parsing)."""
    options: dict[str, Any] = {"region": "us-east-1", "credentials": CREDENTIALS,
                               "max_attempts": 1}
    if mode == "sync":
        with ComprehendMedical(**options) as client:
            return getattr(client, method)(**params)

    async def run() -> Any:
        async with AsyncComprehendMedical(**options) as client:
            return await getattr(client, method)(**params)

    return asyncio.run(run())


def test_there_is_one_fixture_per_operation() -> None:
    names = sorted(p.stem for p in (FIXTURES / "operations").glob("*.json"))
    assert names == sorted(xform_name(op) for op in OPERATIONS)
    assert len(OPERATIONS) == 26


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("operation", OPERATION_NAMES)
def test_operation_sends_the_wire_body_and_parses_the_response(mode: str, operation: str) -> None:
    method = xform_name(operation)
    doc = load_fixture(f"operations/{method}.json")
    with respx.mock() as mock:
        route = mock.post(ENDPOINT).mock(return_value=httpx.Response(
            200, json=doc["response"], headers={"x-amzn-RequestId": "rid-1"}))
        result = call(mode, method, doc["params"])
    request = route.calls.last.request
    assert request.headers["x-amz-target"] == f"ComprehendMedical_20181030.{operation}"
    assert json.loads(request.content) == doc["request"]
    assert type(result).__name__ == f"{operation}Response"
    assert result.model_dump(mode="json", by_alias=True, exclude_none=True) == doc["response"]


def test_detect_entities_v2_result_is_fully_typed() -> None:
    doc = load_fixture("operations/detect_entities_v2.json")
    with respx.mock() as mock:
        mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json=doc["response"]))
        result = call("sync", "detect_entities_v2", doc["params"])
    text = doc["params"]["text"]
    medication = next(e for e in result.entities if e.category is models.EntityType.MEDICATION)
    assert text[medication.begin_offset:medication.end_offset] == medication.text == "lisinopril"
    dosage = next(a for a in medication.attributes if a.type is models.EntitySubType.DOSAGE)
    assert text[dosage.begin_offset:dosage.end_offset] == "10 mg"
    chest_pain = next(e for e in result.entities if e.text == "chest pain")
    assert models.AttributeName.NEGATION in [t.name for t in chest_pain.traits]


@pytest.mark.parametrize(
    ("operation", "code"),
    [(name, code) for name in OPERATION_NAMES for code in OPERATIONS[name].errors],
)
def test_every_modeled_error_maps_to_its_class(operation: str, code: str) -> None:
    method = xform_name(operation)
    doc = load_fixture(f"operations/{method}.json")
    body = {"__type": f"com.amazonaws.comprehendmedical#{code}", "message": "scripted"}
    with respx.mock() as mock:
        mock.post(ENDPOINT).mock(return_value=httpx.Response(400, json=body))
        with pytest.raises(errors.ServiceError) as caught:
            call("sync", method, doc["params"])
    assert type(caught.value) is getattr(errors, code)
    assert caught.value.operation_name == operation


@pytest.mark.parametrize("operation", [n for n in OPERATION_NAMES if n.startswith("Start")])
def test_start_job_fills_a_fresh_uuid4_client_request_token(operation: str) -> None:
    method = xform_name(operation)
    params = dict(load_fixture(f"operations/{method}.json")["params"])
    del params["client_request_token"]
    tokens = []
    with respx.mock() as mock:
        route = mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json={"JobId": "j"}))
        for _ in range(2):
            call("sync", method, params)
            tokens.append(json.loads(route.calls.last.request.content)["ClientRequestToken"])
    assert all(uuid.UUID(token).version == 4 for token in tokens)
    assert tokens[0] != tokens[1]  # one token per call, not per client


@pytest.mark.parametrize(("method", "limit"), [
    ("detect_entities", 20000), ("detect_entities_v2", 20000), ("detect_phi", 20000),
    ("infer_icd10_cm", 10000), ("infer_rx_norm", 10000), ("infer_snomedct", 10000)])
def test_text_over_the_limit_states_limit_and_length(method: str, limit: int) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(ENDPOINT)
        with pytest.raises(errors.ParamValidationError) as caught:
            call("sync", method, {"text": "a" * (limit + 7)})
    assert not route.called
    message = str(caught.value)
    assert f"length {limit + 7}" in message and f"maximum of {limit}" in message
    assert "aaaa" not in message  # the text itself is never echoed


@pytest.mark.parametrize("language", [models.LanguageCode.EN, "en"])
def test_nested_inputs_accept_models_dicts_and_plain_enum_strings(language: Any) -> None:
    doc = load_fixture("operations/start_phi_detection_job.json")
    params = {**doc["params"],
              "input_data_config": models.InputDataConfig(s3_bucket="clinic-notes-input",
                                                          s3_key="discharge/2026/11/"),
              "language_code": language}
    with respx.mock() as mock:
        route = mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json={"JobId": "j"}))
        call("sync", "start_phi_detection_job", params)
    assert json.loads(route.calls.last.request.content) == doc["request"]


def test_unknown_nested_member_is_rejected_not_dropped() -> None:
    doc = load_fixture("operations/start_phi_detection_job.json")
    params = {**doc["params"], "output_data_config": {"S3Bucket": "b-out", "S3Kye": "typo/"}}
    with pytest.raises(errors.ParamValidationError, match="S3Kye"):
        call("sync", "start_phi_detection_job", params)


def test_bad_nested_values_name_the_path_and_rule() -> None:
    doc = load_fixture("operations/start_phi_detection_job.json")
    params = {**doc["params"], "input_data_config": {"S3Bucket": "UPPER_case!"},
              "data_access_role_arn": "not-an-arn-but-long-enough"}
    with pytest.raises(errors.ParamValidationError) as caught:
        call("sync", "start_phi_detection_job", params)
    paths = [path for path, _ in caught.value.problems]
    assert "input_data_config (InputDataConfig).S3Bucket" in paths
    assert "data_access_role_arn (DataAccessRoleArn)" in paths


def test_models_cover_every_structure_and_enum_of_the_service_model() -> None:
    model = json.loads((FIXTURES / "service-model" / "comprehendmedical-2018-10-30.json").read_text())
    structures = {n for n, s in model["shapes"].items() if s["type"] == "structure"}
    enums = {n for n, s in model["shapes"].items() if "enum" in s}
    assert (len(structures), len(enums)) == (82, 20)
    for name in structures:
        if model["shapes"][name].get("exception"):
            # error shapes are exception classes, raised rather than returned
            assert issubclass(getattr(errors, name), errors.ServiceError), name
        else:
            assert issubclass(getattr(models, name), BaseModel), name
    for name in enums:
        cls = getattr(models, name)
        assert issubclass(cls, Enum)
        assert [m.value for m in cls] == model["shapes"][name]["enum"]


@pytest.mark.parametrize("client_class", [ComprehendMedical, AsyncComprehendMedical])
def test_both_clients_have_every_operation_with_keyword_only_parameters(
    client_class: type[Any],
) -> None:
    for name in OPERATIONS:
        method = getattr(client_class, xform_name(name))
        parameters = list(inspect.signature(method).parameters.values())[1:]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), name
        assert inspect.iscoroutinefunction(method) == (client_class is AsyncComprehendMedical)


def test_public_surface_is_reexported() -> None:
    assert cmclient.ComprehendMedical is ComprehendMedical
    assert cmclient.AsyncComprehendMedical is AsyncComprehendMedical
    assert cmclient.errors.ParamValidationError is cmclient.ParamValidationError
