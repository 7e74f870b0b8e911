"""``make demo``: the main batch-job flow against the built-in mock service.

Starts the mock Comprehend Medical on loopback (it checks SigV4 signatures against a
fake key pair, so the demo signs every request as it would for AWS), starts an
entities-detection job, waits for it with progress, describes it and prints the job
document as ``aws comprehendmedical describe-entities-detection-v2-job`` would, then
stops the mock. No AWS account and no network needed: ``python -m cmclient.demo``.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

#: Fake credentials, accepted by the mock only. Never real keys.
DEMO_ACCESS_KEY_ID = "AKIDCMCLIENTDEMO"
DEMO_SECRET_ACCESS_KEY = "cmclient-demo-secret-not-a-real-key"
REGION = "us-east-1"
#: Seconds the mock keeps a job SUBMITTED, then IN_PROGRESS.
QUEUE_SECONDS = 1.0
JOB_SECONDS = 2.0


def run(out: IO[str] = sys.stdout, *, poll_interval: float = 0.5) -> int:
    from cmclient import ComprehendMedical, Credentials
    from cmclient.cli._output import document, write_output
    from cmclient.testing import ComprehendMedicalMock

    mock = ComprehendMedicalMock(
        region=REGION,
        credentials={DEMO_ACCESS_KEY_ID: DEMO_SECRET_ACCESS_KEY},
        job_duration=JOB_SECONDS,
        queue_seconds=QUEUE_SECONDS,
    )
    print("cmclient demo: an entities-detection job against the built-in mock "
          "(no AWS account, no network)", file=out)
    with mock.serve() as url:
        print(f"Mock Comprehend Medical listening on {url} (region {REGION}, "
              "SigV4 signatures checked)", file=out)
        with ComprehendMedical(
            region=REGION,
            endpoint_url=url,
            credentials=Credentials(DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY),
        ) as client:
            started = client.start_entities_detection_v2_job(
                input_data_config={"S3Bucket": "clinical-notes", "S3Key": "2024/11/"},
                output_data_config={"S3Bucket": "cm-results", "S3Key": "entities/"},
                data_access_role_arn="arn:aws:iam::123456789012:role/ComprehendMedicalS3",
                language_code="en",
                job_name="demo-entities",
            )
            job_id = started.job_id or ""
            print(f"Started job {job_id} (s3://clinical-notes/2024/11/ -> "
                  "s3://cm-results/entities/)", file=out)
            print("Waiting for it:", file=out)
            began = time.monotonic()

            def progress(props: Any) -> None:
                status = getattr(props.job_status, "value", props.job_status)
                print(f"  {time.monotonic() - began:5.1f}s  {status}", file=out, flush=True)

            client.wait_for_entities_detection_v2_job(
                job_id, timeout=60, poll_interval=poll_interval, on_progress=progress
            )
            described = client.describe_entities_detection_v2_job(job_id=job_id)
            print("$ cmclient describe-entities-detection-v2-job --job-id "
                  f"{job_id}", file=out)
            write_output(document(described), "json", out,
                         title="DescribeEntitiesDetectionV2Job")
    print("Mock stopped. Done.", file=out)
    out.flush()
    return 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
