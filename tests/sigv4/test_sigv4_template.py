"""A SigningTemplate signed many times agrees with sign_request every time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from cmclient import Credentials
from cmclient.sigv4 import SigningTemplate, sign_request

URL = "http://127.0.0.1:8123/custom/"
HEADERS = [("Content-Type", "application/x-amz-json-1.1"),
           ("X-Amz-Target", "ComprehendMedical_20181030.DetectPHI"), ("X-Custom", " a  b ")]
TEMPLATE = SigningTemplate("POST", URL, HEADERS)


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=200),
    token=st.one_of(st.none(), st.text(st.characters(min_codepoint=33, max_codepoint=126),
                                       min_size=1, max_size=40)),
    seconds=st.integers(min_value=0, max_value=10**9),
    offset_hours=st.integers(min_value=-12, max_value=12),
)
def test_template_signatures_equal_one_shot_signatures(
    body: bytes, token: str | None, seconds: int, offset_hours: int
) -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret", session_token=token)
    zone = timezone(timedelta(hours=offset_hours))
    at = datetime(2020, 1, 1, tzinfo=timezone.utc).astimezone(zone) + timedelta(seconds=seconds)
    kwargs = {"credentials": credentials, "region": "us-east-1", "service": "comprehendmedical",
              "timestamp": at}
    assert TEMPLATE.sign(body, **kwargs) == sign_request("POST", URL, HEADERS, body, **kwargs)  # type: ignore[arg-type]


def test_the_same_template_serves_requests_with_and_without_a_token() -> None:
    at = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    plain = TEMPLATE.sign(b"{}", credentials=Credentials("A", "S"), region="us-east-1",
                          service="comprehendmedical", timestamp=at)
    with_token = TEMPLATE.sign(b"{}", credentials=Credentials("A", "S", session_token="T"),
                               region="us-east-1", service="comprehendmedical", timestamp=at)
    assert "x-amz-security-token" not in plain["Authorization"]
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target;x-custom," in (
        with_token["Authorization"])
    assert with_token["X-Amz-Security-Token"] == "T"
