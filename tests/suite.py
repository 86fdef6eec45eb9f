"""What the whole test session shares, in one module (pytest imports conftest.py under a name of
its own, so state kept there could exist twice): the record of every AWS call the functions make."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from infrastructure.local import calls

# Every AWS call of every function in this session, a folder per stack: the handlers called
# in-process (the recorder is installed before any handler is imported, so that every client they
# make is hooked) and each local runtime's execution environments (which read the variable).
OWN_CALL_LOG = not os.environ.get(calls.RECORD_CALLS)  # made here, so removed at the end
CALL_LOG = Path(os.environ.get(calls.RECORD_CALLS) or tempfile.mkdtemp(prefix="aws-calls-"))
os.environ[calls.RECORD_CALLS] = str(CALL_LOG)
# A folder for each pytest-xdist worker: each has a moto server, so resources, of its own.
IN_PROCESS = CALL_LOG / f"in-process-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
if calls.installed() is None:
    calls.install(calls.Recorder(IN_PROCESS, label="handlers"))

# Whether this session runs the whole suite (no marker, keyword or path narrows it), or checks
# what a whole suite recorded: python -m tests runs every test but the checks (BEFORE_THE_END),
# which leaves its mark beside the record, then the checks in a session of their own.
WHOLE_SUITE = pytest.StashKey[bool]()
WHOLE_SUITE_RECORDED = CALL_LOG / "whole-suite"
