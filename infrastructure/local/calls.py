"""Records the AWS calls that each function makes, as IAM sees them (each action and resource),
with the client settings they were made with, so that the test suite can hold every call of every
function against that function's policies in template.yaml (``infrastructure.iam``).

Installed in a process, it hooks every botocore client created from then on. In a local
runtime's execution environment every call is the function's; in the test process, a call is
the function's while ``acting_as(function)`` holds (the integration harness calls each handler
so), and the tests' own calls are not recorded. Each distinct call is written once per process,
as a JSON line, to a file of its own in the stack's folder.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
from botocore import UNSIGNED

from infrastructure.iam import Authorization, UnknownOperationError, authorizations
from infrastructure.local.template import ACCOUNT

# Set by the test session: the folder under which each stack's calls are recorded.
RECORD_CALLS = "MENTORING_RECORD_AWS_CALLS"
PHYSICAL = "physical.json"

_acting: ContextVar[str | None] = ContextVar("acting_as", default=None)


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    """The AWS calls made in this block (in this thread) are ``function``'s."""
    token = _acting.set(function)
    try:
        yield
    finally:
        _acting.reset(token)


@dataclass(frozen=True)
class Call:
    """One kind of call a function made: what IAM checks for it, and its client's settings."""

    function: str
    call: str
    authorizations: tuple[Authorization, ...]
    unknown: str | None = None
    connect_timeout: float | None = None
    read_timeout: float | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "function": self.function,
                "call": self.call,
                "authorizations": [[a.action, a.resource, dict(a.context)] for a in self.authorizations],
                "unknown": self.unknown,
                "connect_timeout": self.connect_timeout,
                "read_timeout": self.read_timeout,
            }
        )

    @classmethod
    def from_json(cls, line: str) -> Call:
        data = json.loads(line)
        return cls(
            function=data["function"],
            call=data["call"],
            authorizations=tuple(
                Authorization(a, r, tuple(sorted(c.items()))) for a, r, c in data["authorizations"]
            ),
            unknown=data["unknown"],
            connect_timeout=data["connect_timeout"],
            read_timeout=data["read_timeout"],
        )


class Recorder:
    """Writes each distinct call once, to ``<folder>/<label>-<pid>.jsonl``."""

    def __init__(self, folder: Path, label: str, function: str | None = None) -> None:
        self.folder = folder
        self.label = label
        self.function = function
        self._seen: set[Call] = set()
        self._lock = threading.Lock()
        self._listeners: list[list[Call]] = []

    def write(self, call: Call) -> None:
        with self._lock:
            for listener in self._listeners:
                listener.append(call)
            if call in self._seen:
                return
            self._seen.add(call)
            self.folder.mkdir(parents=True, exist_ok=True)
            with (self.folder / f"{self.label}-{os.getpid()}.jsonl").open("a", encoding="utf-8") as out:
                out.write(call.to_json() + "\n")

    def on_call(self, client: Any, params: dict[str, Any], model: Any) -> None:
        function = self.function or _acting.get()
        if function is None:
            return  # the tests' own calls, not a function's
        if client.meta.config.signature_version is UNSIGNED:
            return  # a public operation (Cognito's sign-in), authenticated by its token: no IAM
        service = model.service_model.service_name
        name = f"{service}:{model.name}"
        try:
            found = tuple(authorizations(service, model.name, params, client.meta.region_name, ACCOUNT))
            unknown = None
        except UnknownOperationError as error:
            found, unknown = (), str(error)
        config = client.meta.config
        self.write(Call(function, name, found, unknown, config.connect_timeout, config.read_timeout))

    @contextmanager
    def listening(self) -> Iterator[list[Call]]:
        """Every call recorded in this block, repeats included, in order."""
        calls: list[Call] = []
        with self._lock:
            self._listeners.append(calls)
        try:
            yield calls
        finally:
            with self._lock:
                self._listeners.remove(calls)


_installed: list[Recorder] = []
_original_create_client = botocore.session.Session.create_client


def install(recorder: Recorder) -> Recorder:
    """Every botocore client created in this process from now on reports its calls to ``recorder``."""
    if _installed:
        _installed[0] = recorder
        return recorder
    _installed.append(recorder)

    def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = _original_create_client(self, *args, **kwargs)

        def before_parameter_build(params: dict[str, Any], model: Any, **_: Any) -> None:
            _installed[0].on_call(client, params, model)

        client.meta.events.register("before-parameter-build", before_parameter_build)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    return recorder


def installed() -> Recorder | None:
    return _installed[0] if _installed else None


def read_calls(folder: Path) -> list[Call]:
    """Every call recorded in a stack's folder."""
    calls: set[Call] = set()
    for path in sorted(folder.glob("*.jsonl")):
        calls |= {Call.from_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line}
    return sorted(calls, key=lambda c: (c.function, c.call, c.authorizations))


def write_physical(folder: Path, physical: dict[str, dict[str, str]]) -> None:
    """The stack's physical resources, against which its functions' policies are resolved."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PHYSICAL).write_text(json.dumps(physical, indent=1), encoding="utf-8")
