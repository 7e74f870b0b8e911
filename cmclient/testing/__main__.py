"""``python -m cmclient.testing``: run the mock server until SIGTERM or Ctrl-C."""

import sys

from cmclient.testing import main

sys.exit(main())
