"""The pure steps of a call, with no I/O: configuration resolved into plain values
(``config``), the operation table's row type (``operation``), validating and
serialising a request and parsing a response in awsJson1_1 (``awsjson``), preparing,
signing and finishing one call (``call``), retry decisions (``retry``), job-waiting
and pagination decisions (``jobs``), and the pure halves of the capabilities built on
the operations: long documents (``documents``), quotas (``quota``), batch-job layouts
(``batch``) and just enough S3 (``s3``, ``s3_endpoint``). The drivers in ``_async`` and
``_sync`` do the sending, sleeping and reading around them.
"""
