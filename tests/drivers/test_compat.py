"""``cmclient.compat.client``: the same calls through boto3 and through the compat client,
against one mock server, give the same dictionaries and the same exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from cmclient import compat, errors
from cmclient.testing import ComprehendMedicalMock

AKID = "AKIDCOMPATTEST"
SECRET = "compat-test-secret"
REGION = "us-east-1"
NOTE = "Patient takes 40 mg atorvastatin daily for hyperlipidemia. Jane Roe, DOB 1/2/1960."
START = {"InputDataConfig": {"S3Bucket": "clinical-notes", "S3Key": "notes/"},
         "OutputDataConfig": {"S3Bucket": "cm-results"},
         "DataAccessRoleArn": "arn:aws:iam::123456789012:role/ComprehendMedicalS3",
         "LanguageCode": "en", "JobName": "compat"}
KINDS = ("entities_detection_v2_job", "icd10_cm_inference_job", "phi_detection_job",
         "rx_norm_inference_job", "snomedct_inference_job")


@pytest.fixture(scope="module")
def mock() -> ComprehendMedicalMock:
    return ComprehendMedicalMock(region=REGION, credentials={AKID: SECRET},
                                 queue_seconds=3600)


@pytest.fixture(scope="module")
def clients(mock: ComprehendMedicalMock) -> Iterator[tuple[Any, compat.CompatClient]]:
    with mock.serve() as url:
        kwargs = {"region_name": REGION, "endpoint_url": url, "aws_access_key_id": AKID,
                  "aws_secret_access_key": SECRET}
        theirs = boto3.client("comprehendmedical", **kwargs,
                              config=Config(retries={"mode": "standard", "max_attempts": 2}))
        ours = compat.client("comprehendmedical", **kwargs,
                             config=Config(retries={"mode": "standard", "max_attempts": 2}))
        with ours:
            yield theirs, ours


def same(boto_result: dict[str, Any], compat_result: dict[str, Any]) -> None:
    """Equal documents, request ids and per-response headers aside."""
    theirs, ours = dict(boto_result), dict(compat_result)
    meta_theirs, meta_ours = theirs.pop("ResponseMetadata"), ours.pop("ResponseMetadata")
    assert ours == theirs
    assert list(_keys(ours)) == list(_keys(theirs))  # same members, same order
    assert set(meta_ours) == {"RequestId", "HTTPStatusCode", "HTTPHeaders", "RetryAttempts"}
    assert meta_ours["RequestId"] == meta_ours["HTTPHeaders"]["x-amzn-requestid"]
    for key in ("HTTPStatusCode", "RetryAttempts"):
        assert meta_ours[key] == meta_theirs[key]


def _keys(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield prefix + key
            yield from _keys(item, prefix + key + ".")
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item, prefix + "[].")


def test_detect_and_infer_return_boto3s_dictionaries(clients: Any) -> None:
    theirs, ours = clients
    for method in ("detect_entities", "detect_entities_v2", "detect_phi", "infer_icd10_cm",
                   "infer_rx_norm", "infer_snomedct"):
        same(getattr(theirs, method)(Text=NOTE), getattr(ours, method)(Text=NOTE))


def test_job_operations_return_boto3s_dictionaries(clients: Any) -> None:
    theirs, ours = clients
    for kind in KINDS:
        started = getattr(ours, f"start_{kind}")(**START)
        assert set(started) == {"JobId", "ResponseMetadata"}
        job_id = started["JobId"]
        describe = f"describe_{kind}"
        ours_doc = getattr(ours, describe)(JobId=job_id)
        same(getattr(theirs, describe)(JobId=job_id), ours_doc)
        submit = ours_doc["ComprehendMedicalAsyncJobProperties"]["SubmitTime"]
        assert isinstance(submit, datetime) and submit.tzinfo is not None
        listing = {"Filter": {"JobName": "compat"}, "MaxResults": 10}
        same(getattr(theirs, f"list_{kind}s")(**listing), getattr(ours, f"list_{kind}s")(**listing))
        same(getattr(theirs, f"stop_{kind}")(JobId=job_id),
             getattr(ours, f"stop_{kind}")(JobId=job_id))


def test_errors_are_reachable_on_client_exceptions_with_botocores_response(
    clients: Any,
) -> None:
    theirs, ours = clients
    with pytest.raises(theirs.exceptions.ResourceNotFoundException) as boto_error:
        theirs.describe_phi_detection_job(JobId="no-such-job")
    with pytest.raises(ours.exceptions.ResourceNotFoundException) as our_error:
        ours.describe_phi_detection_job(JobId="no-such-job")
    assert isinstance(our_error.value, ours.exceptions.ClientError)
    assert ours.exceptions.ClientError is errors.ServiceError
    assert ours.exceptions.ResourceNotFoundException is errors.ResourceNotFoundException
    assert ours.exceptions.from_code("ResourceNotFoundException") is (
        errors.ResourceNotFoundException)
    assert our_error.value.operation_name == boto_error.value.operation_name
    assert our_error.value.response["Error"] == boto_error.value.response["Error"]
    for key in ("HTTPStatusCode", "RetryAttempts"):
        assert (our_error.value.response["ResponseMetadata"][key]
                == boto_error.value.response["ResponseMetadata"][key])
    assert str(our_error.value) == str(boto_error.value)


def test_retried_calls_report_retry_attempts_as_boto3_does(
    clients: Any, mock: ComprehendMedicalMock
) -> None:
    theirs, ours = clients
    mock.fail_next(1, "ServiceUnavailableException", operation="DetectPHI")
    boto_result = theirs.detect_phi(Text=NOTE)
    mock.fail_next(1, "ServiceUnavailableException", operation="DetectPHI")
    ours_result = ours.detect_phi(Text=NOTE)
    assert boto_result["ResponseMetadata"]["RetryAttempts"] == 1
    same(boto_result, ours_result)


def test_bad_parameters_raise_before_anything_is_sent(
    clients: Any, mock: ComprehendMedicalMock
) -> None:
    theirs, ours = clients
    sent = len(mock.calls)
    for call in ({"Text": ""}, {"Txet": NOTE}, {}):
        with pytest.raises(botocore.exceptions.ParamValidationError):
            theirs.detect_phi(**call)
        with pytest.raises(compat.ParamValidationError):
            ours.detect_phi(**call)
    assert len(mock.calls) == sent


def test_client_takes_boto3s_arguments_and_config() -> None:
    with compat.client("comprehendmedical", region_name="eu-west-2",
                       aws_access_key_id="AKIDX", aws_secret_access_key="s",
                       config={"connect_timeout": 5, "read_timeout": 7,
                               "max_pool_connections": 3}) as client:
        assert client.meta.region_name == "eu-west-2"
        assert client.meta.endpoint_url == "https://comprehendmedical.eu-west-2.amazonaws.com"
        assert client.native._timeout.connect == 5 and client.native._timeout.read == 7
        assert client.meta.method_to_api_mapping["infer_icd10_cm"] == "InferICD10CM"
        assert client.can_paginate("list_phi_detection_jobs") is False
        assert "describe_snomedct_inference_job" in dir(client)
        with pytest.raises(AttributeError):
            client.describe_something_else  # noqa: B018
    with compat.client("comprehendmedical", config=Config(region_name="us-west-2")) as client:
        assert client.meta.region_name == "us-west-2"
    with pytest.raises(ValueError, match="only provides 'comprehendmedical'"):
        compat.client("comprehend", region_name="us-east-1")
    assert compat._retry_options({"retries": {"max_attempts": 4, "mode": "legacy"}},
                                 {"retry_mode": 1, "max_attempts": 1}) == {
        "retry_mode": "standard", "max_attempts": 5}
    assert compat._retry_options({"retries": {"total_max_attempts": 2}},
                                 {"retry_mode": 1, "max_attempts": 1}) == {"max_attempts": 2}
