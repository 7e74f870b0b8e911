import sys
import time

t0 = time.perf_counter()
import boto3  # noqa: E402

t1 = time.perf_counter()
client = boto3.client(
    "comprehendmedical",
    region_name="us-east-1",
    endpoint_url=sys.argv[1],
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
)
t2 = time.perf_counter()
result = client.describe_entities_detection_v2_job(JobId="0123456789abcdef0123456789abcdef")
assert result["ComprehendMedicalAsyncJobProperties"]["JobStatus"] == "COMPLETED"
t3 = time.perf_counter()
done = time.monotonic()  # the first validated result is in hand
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(f'{{"import": {t1 - t0}, "build": {t2 - t1}, "call": {t3 - t2}, "hwm_kib": {hwm}, '
      f'"result_at": {done}}}')
