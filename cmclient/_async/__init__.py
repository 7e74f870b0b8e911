"""The async drivers: the client, its waiters and paginators, long documents, batch
jobs and S3, each a thin shell of I/O around the pure steps in ``cmclient._protocol``.
This folder is the source of ``cmclient._sync``, which tools/unasync.py writes from it
file by file (``make generate``; a test checks the two agree).
"""
