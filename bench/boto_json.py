"""Make botocore speak awsJson1_1 to Comprehend Medical, for a like-for-like comparison.

botocore 1.44 picks smithy-rpc-v2-cbor for comprehendmedical (the first of the model's
``protocols``). cmclient and the floor speak awsJson1_1, so boto3 is measured with a
copy of its own service model whose ``protocols`` is ``["json"]``, found through
``AWS_DATA_PATH``; the wire bytes, the response and the work are then the same for
all three. (The sink also answers CBOR, and the warm section reports boto3's default
CBOR path as an extra line.)
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

_DIR: Path | None = None


def data_path() -> str:
    """A directory to use as AWS_DATA_PATH (made once per process)."""
    global _DIR
    if _DIR is None:
        import botocore.loaders

        model = botocore.loaders.Loader().load_service_model("comprehendmedical", "service-2")
        version = model["metadata"]["apiVersion"]
        model["metadata"]["protocol"] = "json"
        model["metadata"]["protocols"] = ["json"]
        root = Path(tempfile.mkdtemp(prefix="cmclient-bench-botodata-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        target = root / "comprehendmedical" / version
        target.mkdir(parents=True)
        (target / "service-2.json").write_text(json.dumps(model))
        _DIR = root
    return str(_DIR)


def use_json_in_this_process() -> None:
    """Point this process's botocore at the JSON-only model (call before boto3.client)."""
    os.environ["AWS_DATA_PATH"] = data_path()
