import sys
import time

t0 = time.perf_counter()
import cmclient  # noqa: E402

t1 = time.perf_counter()
client = cmclient.ComprehendMedical(
    region="us-east-1",
    endpoint_url=sys.argv[1],
    credentials=cmclient.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
)
t2 = time.perf_counter()
result = client.describe_entities_detection_v2_job(job_id="0123456789abcdef0123456789abcdef")
assert result.comprehend_medical_async_job_properties.job_status == "COMPLETED"
t3 = time.perf_counter()
done = time.monotonic()  # the first validated result is in hand
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(f'{{"import": {t1 - t0}, "build": {t2 - t1}, "call": {t3 - t2}, "hwm_kib": {hwm}, '
      f'"result_at": {done}}}')
