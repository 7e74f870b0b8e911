import sys
import time

t0 = time.perf_counter()
# The stack floor: the least a client on httpx with pydantic models can do. It pays
# for importing httpx (any client built on it does) and pydantic, then sends one
# request over http.client (no pool, no retries, no configuration, no credential
# chain) signed by a minimal SigV4, decodes it with json.loads and validates it into
# one small hand-written model. TLS trusts what ssl.create_default_context() loads
# (OpenSSL's default paths, which SSL_CERT_FILE overrides).
import http.client  # noqa: E402
import json  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import httpx  # noqa: E402, F401
from pydantic import BaseModel  # noqa: E402

from bench.floor import TARGET, sign  # noqa: E402


class JobProperties(BaseModel):
    JobId: str
    JobName: str | None = None
    JobStatus: str
    Message: str | None = None
    SubmitTime: datetime
    EndTime: datetime | None = None


t1 = time.perf_counter()
url = urlsplit(sys.argv[1])
assert url.hostname is not None
if url.scheme == "https":
    import ssl

    conn: http.client.HTTPConnection = http.client.HTTPSConnection(
        url.hostname, url.port, context=ssl.create_default_context()
    )
else:
    conn = http.client.HTTPConnection(url.hostname, url.port)
t2 = time.perf_counter()
body = json.dumps({"JobId": "0123456789abcdef0123456789abcdef"}).encode()
headers = sign(
    url.netloc, TARGET, body, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "us-east-1", "comprehendmedical", datetime.now(timezone.utc),
)
conn.request("POST", "/", body, {"Host": url.netloc, **headers})
response = conn.getresponse()
data = response.read()
if response.status != 200:
    raise SystemExit(f"HTTP {response.status}")
result = JobProperties.model_validate(json.loads(data)["ComprehendMedicalAsyncJobProperties"])
assert result.JobStatus == "COMPLETED"
t3 = time.perf_counter()
done = time.monotonic()
conn.close()
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(f'{{"import": {t1 - t0}, "build": {t2 - t1}, "call": {t3 - t2}, "hwm_kib": {hwm}, '
      f'"result_at": {done}}}')
