"""A pause point for tests that kill a run on purpose: nothing happens unless a test asks for it.

Why: a test of what a killed run leaves behind (the Dagster writer slot, the warehouse lock) must kill the
process while it is inside the run. Waiting for a big input to take long enough is slow and a race; instead
the test starts the command with

    GATEWAYLENS_TEST_PAUSE_AT=<point>         where to stop (see POINTS)
    GATEWAYLENS_TEST_PAUSE_MARKER=<path>      a file the process writes when it has stopped there

and the process, on reaching that point, writes the marker and sleeps (up to PAUSE_SECONDS, so a process the
test forgot ends by itself). The test waits for the marker, then kills. Without the variables `pause_at`
returns at once: production runs never set them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT_ENV = "GATEWAYLENS_TEST_PAUSE_AT"
MARKER_ENV = "GATEWAYLENS_TEST_PAUSE_MARKER"
PAUSE_SECONDS = 600.0
POINTS = {
    "ingest-commit": "the ingest staged every file and holds the warehouse lock; nothing is committed yet",
}


def pause_at(point: str) -> None:
    """Stop here when the environment asks to pause at `point`: write the marker, then sleep until killed."""
    if os.environ.get(PAUSE_AT_ENV) != point:
        return
    marker = os.environ.get(MARKER_ENV)
    if marker:
        Path(marker).write_text(f"{point} {os.getpid()}\n")
    time.sleep(PAUSE_SECONDS)
