import sys
import time

t0 = time.perf_counter()
from pydantic_core import SchemaValidator, core_schema  # noqa: E402

from bench.floor import FloorClient  # noqa: E402


# The floor, with its result validated by pydantic-core alone into plain classes: what
# a cold path that takes pydantic off it (and keeps pydantic-core's validation) would
# pay. Two minimal classes, as in cold_floor_pydantic.py.
class JobProperties:
    pass


class DescribeResponse:
    pass


def _optional(schema: core_schema.CoreSchema) -> core_schema.ModelField:
    return core_schema.model_field(
        core_schema.with_default_schema(core_schema.nullable_schema(schema), default=None)
    )


def _model(cls: type, fields: dict[str, core_schema.ModelField]) -> core_schema.CoreSchema:
    return core_schema.model_schema(cls, core_schema.model_fields_schema(fields))


PROPERTIES = _model(JobProperties, {
    "JobId": _optional(core_schema.str_schema()),
    "JobStatus": _optional(core_schema.str_schema()),
})
VALIDATOR = SchemaValidator(
    _model(DescribeResponse, {"ComprehendMedicalAsyncJobProperties": _optional(PROPERTIES)})
)

t1 = time.perf_counter()
client = FloorClient(
    sys.argv[1], "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1"
)
t2 = time.perf_counter()
result = VALIDATOR.validate_python(
    client.describe_entities_detection_v2_job("0123456789abcdef0123456789abcdef")
)
assert result.ComprehendMedicalAsyncJobProperties.JobStatus == "COMPLETED"
t3 = time.perf_counter()
done = time.monotonic()  # the first validated result is in hand
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(f'{{"import": {t1 - t0}, "build": {t2 - t1}, "call": {t3 - t2}, "hwm_kib": {hwm}, '
      f'"result_at": {done}}}')
