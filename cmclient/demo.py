"""``make demo``: the main batch-job flow against the built-in mock service.

Starts the mock Comprehend Medical on loopback (it checks SigV4 signatures against a
fake key pair, so the demo signs every request as it would for AWS), starts an
entities-detection job, waits for it with progress, describes it and prints the job
document as ``aws comprehendmedical describe-entities-detection-v2-job`` would. Then
it analyzes a long built-in discharge summary, over the 20,000-byte limit of one
request (``analyze_document`` splits it and merges the answers), prints its entity
count and the first lines of its de-identified text (``deidentify``), and stops the
mock. No AWS account and no network needed: ``python -m cmclient.demo``.

Before it stops the mock, the demo also runs the batch path end to end against the
mock's own S3 (``batch_section``): three notes uploaded, an entities-detection job run
on them, and its results read back from S3 and summarised (``run_batch``).
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
            s3_endpoint_url=url,  # the mock speaks S3 too, on the same port
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
            long_note_section(client, out)
            batch_section(client, out, poll_interval=poll_interval)
    print("Mock stopped. Done.", file=out)
    out.flush()
    return 0


#: The long note's opening lines: every kind of PHI the mock finds, for ``deidentify``.
_NOTE_HEADER = """DISCHARGE SUMMARY
Patient: John Smith, 67 years old. MRN: 00482913. SSN 123-45-6789.
Admitted 11/02/2024, discharged 11/09/2024. Attending: Dr. Maria Lopez.
Home: 123 Main Street. Phone 206-555-0142, email john.smith@example.com.
"""
_NOTE_DAY = (
    "Hospital day {day}: the patient denies chest pain but reports a mild headache. "
    "Lisinopril 10 mg PO daily was continued for hypertension; metformin 500 mg twice "
    "daily for type 2 diabetes. No shortness of breath or fever. Lungs clear, heart "
    "regular. Wife Mary at bedside, updated by phone at 206-555-0199.\n"
    "Labs: hemoglobin A1c 7.4; ECG unremarkable. Ibuprofen 400 mg every 6 hours as "
    "needed for knee pain. Plan discussed with Dr. Lopez.\n"
)
#: Enough hospital days to take the note over DetectEntitiesV2's 20,000-byte limit.
_NOTE_DAYS = 60


def long_note() -> str:
    """The demo's long discharge summary: a header full of PHI, then one paragraph per
    hospital day, over the 20,000-byte limit of one DetectEntitiesV2 request."""
    days = "\n".join(_NOTE_DAY.format(day=day) for day in range(1, _NOTE_DAYS + 1))
    return f"{_NOTE_HEADER}\nHOSPITAL COURSE\n{days}"


def long_note_section(client: Any, out: IO[str], *, first_lines: int = 4) -> None:
    """Analyze the long note (split in chunks, answers merged), count its entities,
    then de-identify it and print the first lines of the result."""
    from cmclient.text import text_limit

    note = long_note()
    plan = client.analyze_document(note, dry_run=True)
    print(f"\nA long note: {len(note):,} characters, {len(note.encode()):,} bytes (one "
          f"DetectEntitiesV2 request takes {text_limit('detect_entities_v2'):,}): "
          f"analyze_document sends it in {plan.requests} chunks ({plan.units} billing "
          "units) and merges the answers.", file=out)
    entities = client.analyze_document(note).entities or []
    categories: dict[str, int] = {}
    for entity in entities:
        category = str(getattr(entity.category, "value", entity.category))
        categories[category] = categories.get(category, 0) + 1
    counts = ", ".join(f"{n} {name}" for name, n in sorted(categories.items()))
    print(f"DetectEntitiesV2 over the whole note: {len(entities)} entities ({counts})",
          file=out)
    redacted = client.deidentify(note)
    print(f"deidentify replaced {len(redacted.replacements)} spans of PHI; the first "
          f"{first_lines} lines:", file=out)
    for line in redacted.text.splitlines()[:first_lines]:
        print(f"  | {line}", file=out)


#: The batch section's notes, uploaded to the mock's S3 as a job's input.
BATCH_NOTES = {
    "2024-11-02-smith.txt": "Pt is a 64 y/o male with hypertension. Started lisinopril "
                            "10 mg PO daily. Denies chest pain.",
    "2024-11-03-jones.txt": "History of type 2 diabetes; metformin 500 mg twice daily. "
                            "Reports a mild headache, ibuprofen 400 mg as needed.",
    "2024-11-04-lee.txt": "Admitted with pneumonia. No fever today. Aspirin 81 mg daily "
                          "was continued.",
}
BATCH_BUCKET = "demo-notes"


def batch_section(client: Any, out: IO[str], *, poll_interval: float = 0.5) -> None:
    """The batch path against the mock's S3: ``run_batch`` uploads three notes, starts an
    entities-detection job on them, waits for it and reads its results back; each
    note's result is summarised (its entities, and the medications among them)."""
    print(f"\nThe batch path: {len(BATCH_NOTES)} notes uploaded to "
          f"s3://{BATCH_BUCKET}/batch/in/, an entities-detection job run on them, its "
          f"results read back from s3://{BATCH_BUCKET}/batch/out/ (run_batch):", file=out)
    began = time.monotonic()

    def progress(props: Any) -> None:
        status = getattr(props.job_status, "value", props.job_status)
        print(f"  job {status} after {time.monotonic() - began:.1f} s", file=out, flush=True)

    output = client.run_batch(
        BATCH_NOTES, kind="entities-v2", bucket=BATCH_BUCKET, input_prefix="batch/in/",
        output_prefix="batch/out/", job_name="demo-batch",
        data_access_role_arn="arn:aws:iam::123456789012:role/ComprehendMedicalS3",
        timeout=60, poll_interval=poll_interval, on_progress=progress)
    summary = output.manifest.summary
    print(f"Job {output.job_id} ended {output.status}: {summary.success_files_count} of "
          f"{summary.input_file_count} files processed, "
          f"{summary.total_metered_characters} characters metered; results:", file=out)
    for result in output.iter_results():
        entities = result.result.entities or []
        medications = sorted({e.text for e in entities
                              if getattr(e.category, "value", e.category) == "MEDICATION"})
        print(f"  {result.input_name}: {len(entities)} entities; medications: "
              f"{', '.join(medications) or 'none'}", file=out)
    for skipped in output.unprocessed:
        print(f"  {skipped.input_name}: not processed ({skipped.error_code})", file=out)


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
