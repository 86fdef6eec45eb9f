"""The local runtime's functions scale out as Lambda does: a new execution environment when every
one already there is busy, never more than the function's concurrency."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from infrastructure.local import template as tpl
from infrastructure.local.runtime import TIMEOUT_GRACE, FunctionError, LocalFunction

pytestmark = pytest.mark.integration


def _waiting(reserved: int | None = None, timeout: int = 30) -> tpl.Function:
    return tpl.Function(
        name="Waiting",
        code_uri="tests/integration/runtime_functions/",
        handler="waiting.handler",
        timeout=timeout,
        environment={},
        max_retries=0,
        dead_letter_target=None,
        reserved_concurrency=reserved,
    )


def _function(tmp_path: Path, concurrency: int, timeout: int = 30) -> LocalFunction:
    arn = "arn:aws:lambda:eu-west-2:123456789012:function:Waiting"
    return LocalFunction(_waiting(timeout=timeout), {}, arn, tmp_path / "log", concurrency)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_second_invocation_runs_in_a_second_environment_while_the_first_is_busy(tmp_path: Path) -> None:
    function = _function(tmp_path, concurrency=2)
    first_done = tmp_path / "first"
    pids: dict[str, int] = {}
    busy = threading.Thread(target=lambda: pids.update(first=function.invoke({"release": str(first_done)})))
    try:
        busy.start()
        (tmp_path / "second").touch()
        pids["second"] = function.invoke({"release": str(tmp_path / "second")})
        assert "first" not in pids  # the first is still waiting: the second did not queue behind it
        first_done.touch()
        busy.join()  # ends once released: it waits for no cold start in a fixed time
        pids["third"] = function.invoke({"release": str(first_done)})
    finally:
        first_done.touch()
        function.stop()

    assert pids["first"] != pids["second"]
    assert pids["third"] in {pids["first"], pids["second"]}  # a warm environment is reused


def test_with_a_concurrency_of_one_invocations_wait_their_turn(tmp_path: Path) -> None:
    function = _function(tmp_path, concurrency=1)
    release = tmp_path / "release"
    pids: list[int] = []
    first = threading.Thread(target=lambda: pids.append(function.invoke({"release": str(release)})))
    second = threading.Thread(target=lambda: pids.append(function.invoke({"release": str(release)})))
    try:
        first.start()
        second.start()
        release.touch()
        first.join()
        second.join()
    finally:
        release.touch()
        function.stop()

    assert len(pids) == 2
    assert len(set(pids)) == 1  # one environment served both


def test_an_invocation_past_its_timeout_is_stopped_where_it_was_and_the_next_gets_a_fresh_environment(
    tmp_path: Path,
) -> None:
    function = _function(tmp_path, concurrency=1, timeout=1)
    started, release = tmp_path / "started", tmp_path / "release"
    (tmp_path / "warm").touch()
    try:
        function.invoke({"release": str(tmp_path / "warm")})  # the cold start is not in the timeout
        began = time.monotonic()
        with pytest.raises(FunctionError, match="timed out after 1 s"):
            function.invoke({"release": str(release), "started": str(started)})
        stopped_after = time.monotonic() - began
        timed_out = int(started.read_text())
        release.touch()
        fresh = function.invoke({"release": str(release)})
    finally:
        release.touch()
        function.stop()

    # Stopped at its timeout (1 s and the grace), not run until it gave up waiting (30 s).
    assert TIMEOUT_GRACE < stopped_after < 30
    assert fresh != timed_out
    assert not _running(timed_out)


def test_the_event_sources_maximum_concurrency_is_read_from_the_template() -> None:
    stack = tpl.read()

    sources = {s.function: s.maximum_concurrency for s in stack.queue_sources}
    reserved = {name: f.reserved_concurrency for name, f in stack.functions.items()}

    assert sources == {
        "IntakeFunction": 5,
        "NotifyFunction": int(stack.parameter_defaults()["NotifyConcurrency"]),
    }
    assert set(reserved.values()) == {None}  # nothing reserved: a fresh account's quota may be 10
