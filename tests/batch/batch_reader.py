"""A plain, sequential reader of a finished job's results, composed from the pure
batch rules (``cmclient._protocol.batch``) and the sync S3 driver: what ``job_results`` does,
minus its concurrency. The tests use it to check the layout end to end."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cmclient._protocol import batch as _batch
from cmclient._protocol.batch import DocumentResult, JobOutput, Lookup
from cmclient._sync.s3 import S3


def read_job_output(s3: S3, job_id: str, kind: str, props: Mapping[str, Any]) -> JobOutput[Any]:
    """``props`` is a Describe*Job's ComprehendMedicalAsyncJobProperties (AWS names)."""
    found = _batch.batch_kind(kind)
    status = _batch.check_results_ready(job_id, props.get("JobStatus"), props.get("Message"))
    output, input_config = props["OutputDataConfig"], props["InputDataConfig"]
    input_prefix = input_config.get("S3Key")
    where = _batch.locate_job_output(job_id, output["S3Bucket"], output.get("S3Key"),
                                     props.get("ManifestFilePath"))
    if isinstance(where, Lookup):
        folders = [p for page in s3.list_pages(where.bucket, prefix=where.prefix or None,
                                               delimiter=where.delimiter)
                   for p in page.common_prefixes]
        where = _batch.pick_job_folder(job_id, where, folders)
    manifest = _batch.parse_manifest(s3.get_object(where.bucket, where.manifest_key).body,
                                     key=where.manifest_key)
    summary = manifest.summary
    lists = [_batch.parse_s3_location(loc, default_bucket=where.bucket)
             for loc in (summary.successful_files_list_location,
                         summary.unprocessed_files_list_location) if loc]
    unprocessed = []
    if summary.unprocessed_files_list_location:
        bucket, key = _batch.parse_s3_location(summary.unprocessed_files_list_location,
                                               default_bucket=where.bucket)
        unprocessed = _batch.unprocessed_documents(
            _batch.parse_file_list(s3.get_object(bucket, key).body, key=key),
            input_config["S3Bucket"], input_prefix)
    location = where
    list_keys = frozenset(key for bucket, key in lists if bucket == location.bucket)

    def results() -> Iterator[DocumentResult[Any]]:
        for page in s3.list_pages(location.bucket, prefix=location.folder):
            keys = (summary.key for summary in page.objects)
            for key, name in _batch.output_keys(keys, location, input_prefix,
                                                file_lists=list_keys):
                body = s3.get_object(location.bucket, key).body
                yield DocumentResult(name, _batch.parse_output(found, body, key=key), key)

    manifest_status = summary.status
    return JobOutput(
        job_id=job_id, kind=found,
        status=str(getattr(manifest_status, "value", manifest_status or status)),
        manifest=manifest, location=location, unprocessed=unprocessed, results=results)
