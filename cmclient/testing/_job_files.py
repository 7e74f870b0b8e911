"""A mock batch job's S3 side: it reads its inputs from the mock's S3 when it starts
and writes its outputs there when it ends, as the service does.

``S3JobFiles`` is the ``JobFiles`` the job store calls (``_jobs``). When a job starts,
its inputs are every object under its ``InputDataConfig`` (``read_job_inputs``), taken
then: an object written later is not read. When it first ends with results (its time
ran out, or a test called ``complete`` or ``partial``), ``write_job_outputs`` lays out
its folder (one ``.out`` per processed file, from the mock's own real-time analysis of
that kind, the Manifest and both file lists), and the job's final status and message
become what that says: PARTIAL_SUCCESS when some files could not be processed (over
40,000 bytes, not UTF-8), FAILED when none could (or there were none). A status a test
forced (``partial``) stays.

A job whose input bucket does not exist in the mock's S3 when it starts is not given
an S3 side: it ends as its clock says and writes nothing, so tests that only follow a
job's states need no S3 set-up.

It runs under the mock's lock, like the job store it serves; the store has its own.
"""

from __future__ import annotations

from cmclient._protocol.batch import batch_kind
from cmclient.testing._clinical import DETECTORS
from cmclient.testing._jobs import Job
from cmclient.testing._s3 import S3Store, read_job_inputs, write_job_outputs

__all__ = ["S3JobFiles"]


class S3JobFiles:
    """Jobs' inputs and outputs in ``store`` (see the module docstring)."""

    def __init__(self, store: S3Store) -> None:
        self.store = store

    def started(self, job: Job) -> None:
        config = job.request["InputDataConfig"]
        bucket = config["S3Bucket"]
        if self.store.has_bucket(bucket):
            job.inputs = read_job_inputs(self.store, bucket, config.get("S3Key"))

    def finished(self, job: Job, forced: str | None) -> None:
        if job.inputs is None:
            return
        found = batch_kind(job.kind.key, operation_name=job.kind.start)
        source, target = job.request["InputDataConfig"], job.request["OutputDataConfig"]
        end = job.end_time if job.end_time is not None else job.submit_time
        outcome = write_job_outputs(
            self.store, job_id=job.id, kind=found.kind,
            input_bucket=source["S3Bucket"], input_prefix=source.get("S3Key"),
            output_bucket=target["S3Bucket"], output_prefix=target.get("S3Key"),
            analyse=DETECTORS[found.operation], inputs=job.inputs,
            account_id=job.account, duration_seconds=max(0.0, end - job.submit_time),
            status=forced,
        )
        job.inputs = None  # read once; the outputs now stand for them
        if forced is None:
            job.final, job.message = outcome.status, outcome.message
