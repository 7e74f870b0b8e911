"""Every SigV4 failure the mock answers, as AWS answers it, and the signatures it accepts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from cmclient import Credentials, errors
from cmclient.sigv4 import sign_request
from cmclient.testing import ComprehendMedicalMock

URL = "https://comprehendmedical.us-east-1.amazonaws.com/"
BODY = json.dumps({"Text": "aspirin 81 mg daily"}).encode()
BASE = {"Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "ComprehendMedical_20181030.DetectEntitiesV2"}
GOOD = Credentials("AKIDGOOD", "good-secret")


def signed(
    credentials: Credentials = GOOD, *, region: str = "us-east-1",
    service: str = "comprehendmedical", when: datetime | None = None,
) -> dict[str, str]:
    headers = dict(BASE)
    headers.update(sign_request("POST", URL, BASE, BODY, credentials=credentials, region=region,
                                service=service, timestamp=when or datetime.now(timezone.utc)))
    return headers


def send(mock: ComprehendMedicalMock, headers: dict[str, str], body: bytes = BODY) -> httpx.Response:
    with httpx.Client(transport=mock.transport()) as http:
        return http.post(URL, content=body, headers=headers)


def error(response: httpx.Response) -> tuple[int, str, str]:
    document = response.json()
    return response.status_code, document["__type"], document["message"]


@pytest.fixture
def strict() -> ComprehendMedicalMock:
    return ComprehendMedicalMock(credentials={"AKIDGOOD": "good-secret"})


def test_a_correct_signature_is_accepted(strict: ComprehendMedicalMock) -> None:
    response = send(strict, signed())
    assert response.status_code == 200 and response.json()["Entities"]


def test_missing_authorization_is_missing_authentication_token(strict: ComprehendMedicalMock) -> None:
    status, kind, message = error(send(strict, dict(BASE)))
    assert (status, kind) == (400, "com.amazon.coral.service#MissingAuthenticationTokenException")
    assert "Authentication Token" in message


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=abc",
        "AWS4-HMAC-SHA256 Credential=AKIDGOOD/20240101/us-east-1/comprehendmedical/aws4_request",
        "Bearer some-token",
        "AWS4-HMAC-SHA256 Credential=AKIDGOOD/us-east-1, SignedHeaders=host, Signature=abc",
    ],
)
def test_malformed_authorization_is_incomplete_signature(strict: ComprehendMedicalMock, authorization: str) -> None:
    headers = signed()
    headers["Authorization"] = authorization
    status, kind, _ = error(send(strict, headers))
    assert (status, kind) == (400, "com.amazon.coral.service#IncompleteSignatureException")


def test_missing_x_amz_date_is_incomplete_signature(strict: ComprehendMedicalMock) -> None:
    headers = signed()
    del headers["X-Amz-Date"]
    assert error(send(strict, headers))[1].endswith("#IncompleteSignatureException")


def test_wrong_region_in_scope_is_invalid_signature(strict: ComprehendMedicalMock) -> None:
    status, kind, message = error(send(strict, signed(region="eu-west-1")))
    assert (status, kind) == (400, "com.amazon.coral.service#InvalidSignatureException")
    assert "region" in message


def test_wrong_service_in_scope_is_invalid_signature(strict: ComprehendMedicalMock) -> None:
    _status, kind, message = error(send(strict, signed(service="comprehend")))
    assert kind.endswith("#InvalidSignatureException") and "comprehendmedical" in message


def test_a_mock_serves_the_region_it_was_given() -> None:
    mock = ComprehendMedicalMock(region="eu-west-2")
    assert send(mock, signed(region="eu-west-2")).status_code == 200
    assert error(send(mock, signed(region="us-east-1")))[1].endswith("#InvalidSignatureException")


@pytest.mark.parametrize("offset", [timedelta(minutes=-16), timedelta(minutes=16)])
def test_a_date_more_than_15_minutes_off_is_invalid_signature(strict: ComprehendMedicalMock, offset: timedelta) -> None:
    status, kind, message = error(send(strict, signed(when=datetime.now(timezone.utc) + offset)))
    assert (status, kind) == (400, "com.amazon.coral.service#InvalidSignatureException")
    expected = "Signature expired" if offset < timedelta(0) else "Signature not yet current"
    assert message.startswith(expected)


def test_a_date_within_15_minutes_is_accepted(strict: ComprehendMedicalMock) -> None:
    assert send(strict, signed(when=datetime.now(timezone.utc) - timedelta(minutes=14))).status_code == 200


def test_unknown_access_key_is_unrecognized_client(strict: ComprehendMedicalMock) -> None:
    status, kind, message = error(send(strict, signed(Credentials("AKIDOTHER", "good-secret"))))
    assert (status, kind) == (400, "com.amazon.coral.service#UnrecognizedClientException")
    assert message == "The security token included in the request is invalid."


def test_wrong_secret_is_invalid_signature(strict: ComprehendMedicalMock) -> None:
    _status, kind, message = error(send(strict, signed(Credentials("AKIDGOOD", "wrong-secret"))))
    assert kind == "com.amazon.coral.service#InvalidSignatureException"
    assert "signature we calculated does not match" in message


def test_a_body_changed_after_signing_is_invalid_signature(strict: ComprehendMedicalMock) -> None:
    response = send(strict, signed(), body=json.dumps({"Text": "warfarin"}).encode())
    assert error(response)[1].endswith("#InvalidSignatureException")


def test_a_signed_header_changed_after_signing_is_invalid_signature(strict: ComprehendMedicalMock) -> None:
    headers = signed()
    headers["X-Amz-Target"] = "ComprehendMedical_20181030.DetectPHI"
    assert error(send(strict, headers))[1].endswith("#InvalidSignatureException")


def test_session_tokens_are_signed_and_accepted(strict: ComprehendMedicalMock) -> None:
    creds = Credentials("AKIDGOOD", "good-secret", "session-token-value")
    assert send(strict, signed(creds)).status_code == 200


def test_without_configured_credentials_any_well_formed_signature_passes() -> None:
    lenient = ComprehendMedicalMock()
    assert send(lenient, signed(Credentials("ANYKEY", "any-secret"))).status_code == 200
    assert error(send(lenient, dict(BASE)))[1].endswith("#MissingAuthenticationTokenException")
    assert error(send(lenient, signed(region="us-west-2")))[1].endswith("#InvalidSignatureException")


def test_cmclient_raises_the_matching_exception_classes(strict: ComprehendMedicalMock) -> None:
    with strict.client(credentials=Credentials("AKIDNOPE", "x"), max_attempts=1) as client, \
            pytest.raises(errors.UnrecognizedClientException):
        client.detect_phi(text="x")
    with strict.client(credentials=Credentials("AKIDGOOD", "bad"), max_attempts=1) as client, \
            pytest.raises(errors.InvalidSignatureException):
        client.detect_phi(text="x")
    with strict.client(region="us-west-2", max_attempts=1,
                       credentials=GOOD) as client, pytest.raises(errors.InvalidSignatureException):
        client.detect_phi(text="x")
    with strict.client(credentials=GOOD) as client:
        assert client.detect_phi(text="Call 555-123-4567").entities


def test_every_auth_failure_carries_a_request_id(strict: ComprehendMedicalMock) -> None:
    response = send(strict, dict(BASE))
    assert response.headers["x-amzn-RequestId"]


def test_a_signature_over_user_agent_is_accepted_as_aws_accepts_it(
    strict: ComprehendMedicalMock,
) -> None:
    # Older SDKs sign User-Agent; cmclient never does, but AWS accepts whatever a client
    # lists in SignedHeaders, and so must the mock.
    from cmclient.sigv4 import authorization, canonical_request

    when = datetime.now(timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    headers = {**BASE, "User-Agent": "legacy-sdk/1.0", "X-Amz-Date": amz_date,
               "Host": "comprehendmedical.us-east-1.amazonaws.com"}
    creq, names = canonical_request("POST", URL, {}, BODY,
                                    [(k.lower(), v) for k, v in headers.items()])
    assert "user-agent" in names.split(";")
    headers["Authorization"] = authorization(creq, names, amz_date, GOOD, "us-east-1",
                                             "comprehendmedical")
    assert send(strict, headers).status_code == 200
    headers["User-Agent"] = "changed-in-transit/2.0"
    assert error(send(strict, headers))[1].endswith("InvalidSignatureException")
