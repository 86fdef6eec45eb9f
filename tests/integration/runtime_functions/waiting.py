"""A function for testing the local runtime's execution environments: it answers with its process
id once the file the event names exists, so a test decides when each invocation may finish. It
writes its process id to ``started`` first when the event names that file."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def handler(event: dict[str, Any], _context: Any) -> int:
    if "started" in event:
        Path(event["started"]).write_text(str(os.getpid()))
    release = Path(event["release"])
    for _ in range(600):
        if release.exists():
            break
        time.sleep(0.05)
    return os.getpid()
