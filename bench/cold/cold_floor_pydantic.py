import sys
import time

t0 = time.perf_counter()
from pydantic import BaseModel, ConfigDict  # noqa: E402

from bench.floor import FloorClient  # noqa: E402


# The floor, with its result validated into pydantic models: the fewest there can be
# (two, built on first use) with two fields, so the difference from the floor is what
# importing and using pydantic costs. cmclient's models do far more (aliases,
# constraints, forward-compatible enums, timestamps).
class JobProperties(BaseModel):
    model_config = ConfigDict(defer_build=True)
    JobId: str | None = None
    JobStatus: str | None = None


class DescribeResponse(BaseModel):
    model_config = ConfigDict(defer_build=True)
    ComprehendMedicalAsyncJobProperties: JobProperties | None = None


t1 = time.perf_counter()
client = FloorClient(
    sys.argv[1], "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1"
)
t2 = time.perf_counter()
result = DescribeResponse.model_validate(
    client.describe_entities_detection_v2_job("0123456789abcdef0123456789abcdef")
)
assert result.ComprehendMedicalAsyncJobProperties is not None
assert result.ComprehendMedicalAsyncJobProperties.JobStatus == "COMPLETED"
t3 = time.perf_counter()
done = time.monotonic()  # the first validated result is in hand
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(f'{{"import": {t1 - t0}, "build": {t2 - t1}, "call": {t3 - t2}, "hwm_kib": {hwm}, '
      f'"result_at": {done}}}')
