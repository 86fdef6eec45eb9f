"""The local runtime: plays the Lambda service, API Gateway, the SQS event sources and EventBridge
Scheduler in front of a moto server, with every piece of wiring read from template.yaml."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import boto3
import botocore.session

from infrastructure.iam import Authorization
from infrastructure.local import calls
from infrastructure.local import template as tpl
from infrastructure.local.client import confirmation_tokens
from infrastructure.local.firewall import Firewall, rate_rules
from infrastructure.local.moto_server import CLOCK_FILE
from infrastructure.local.provision import (
    Physical,
    partner_api_keys,
    provision,
    resolved_environment,
    sent_emails,
)

_PROJECT = Path(__file__).resolve().parents[2]
MOTO_SERVER = "infrastructure.local.moto_server"
MAX_API_BODY = 10 * 1024 * 1024
TIMEOUT_GRACE = 2  # seconds beyond the function's timeout for the answer to cross the pipe
# How long the pipeline may show no sign of progress before a drain gives up: a stuck pipeline,
# not a slow one (a busy machine only makes each step slower, and every step is a sign).
STALL_LIMIT = 120.0
Log = Callable[[str], None]


# ---------------------------------------------------------------- functions in their own processes


class _Context:
    def __init__(self, name: str, arn: str, timeout: int, request_id: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = 512
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _worker(
    conn: Connection,
    module: str,
    entry: str,
    name: str,
    arn: str,
    timeout: int,
    log_file: str,
    env: dict[str, str],
    record_calls: str | None = None,
) -> None:
    """A Lambda execution environment: imports the handler once (the cold start), then serves events.

    Its output goes to a log file, as a function's goes to its CloudWatch log group. With
    ``record_calls``, every AWS call it makes is recorded there as the function's.
    """
    import importlib

    os.environ.update(env)  # the function's own environment, set before its module is imported
    if record_calls is not None:
        calls.install(calls.Recorder(Path(record_calls), label=name, function=name))
    stream = Path(log_file).open("a", buffering=1, encoding="utf-8")  # noqa: SIM115 - open for the process's life
    sys.stdout = sys.stderr = stream

    faults = _Faults(Path(log_file))
    handler = getattr(importlib.import_module(module), entry)
    conn.send(("ready", None))  # the init phase is over; the timeout counts from each event
    while True:
        received = conn.recv()
        if received is None:
            return
        event, request_id, offset = received
        faults.next_invocation()
        # Lambda sets the trace header of each invocation; X-Ray's SDK makes it the parent segment.
        os.environ["_X_AMZN_TRACE_ID"] = _trace_header()
        try:
            with _moved_clock(offset):
                result = handler(event, _Context(name, arn, timeout, request_id))
            conn.send(("ok", result))
        except Exception as error:  # noqa: BLE001 - reported to the caller as Lambda reports a function error
            conn.send(
                (
                    "error",
                    {
                        "errorType": type(error).__name__,
                        "errorMessage": str(error),
                        "stackTrace": traceback.format_exc().splitlines()[-5:],
                    },
                )
            )


@contextlib.contextmanager
def _moved_clock(offset: float) -> Iterator[None]:
    """The invocation runs at the runtime's time: real time moved by ``offset`` seconds (time-machine
    moves the process's wall clock: ``datetime.now``, ``time.time``; never its monotonic clock, so
    timeouts still count real seconds)."""
    if not offset:
        yield
        return
    import time_machine

    with time_machine.travel(time.time() + offset, tick=True):
        yield


class Clock:
    """The runtime's time: real time, or real time moved by a test that runs a programme of months
    in minutes. The scheduler fires what is due by it, every invocation runs at it, and so does
    moto's Cognito (``file``: where the offset is written for the moto server to read), so that a
    console session signed in at the moved time is not already expired."""

    def __init__(self, file: Path | None = None) -> None:
        self.offset = timedelta(0)
        self.file = file
        if file is not None:
            file.write_text("0")

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def move_to(self, moment: datetime) -> None:
        """From now on, it is ``moment`` (and time goes on from there)."""
        self.offset = moment - datetime.now(UTC)
        if self.file is not None:
            self.file.write_text(repr(self.offset.total_seconds()))


def _trace_header() -> str:
    """A sampled X-Ray trace header, as Lambda gives an invocation of a function with active tracing."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"


class TraceCollector:
    """Plays the X-Ray daemon: a UDP listener on loopback that keeps every segment document the
    functions' X-Ray SDK sends (``AWS_XRAY_DAEMON_ADDRESS``), so tests see what X-Ray would store."""

    HEADER = b'{"format":"json","version":1}\n'
    KEPT = 100_000  # the latest documents (a load run sends hundreds of thousands)

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for bursts, so that the kernel does not drop segments the tests must see.
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.5)
        self._documents: deque[str] = deque(maxlen=self.KEPT)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="xray", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._socket.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if data.startswith(self.HEADER):
                with self._lock:
                    self._documents.append(data[len(self.HEADER) :].decode("utf-8", errors="replace"))

    def documents(self) -> list[str]:
        """The segments and subsegments received (the latest ``KEPT``), as the JSON text sent."""
        with self._lock:
            return list(self._documents)

    def segments(self) -> list[dict[str, Any]]:
        return [json.loads(document) for document in self.documents()]


class _Faults:
    """What a test may do to an execution environment: die, as a timeout or running out of memory
    kills a Lambda, just before a given AWS call of an invocation. The plan is a file beside the
    function's log (``LocalFunction.die_at_calls``): one call number for each invocation to kill in
    turn, the first taken off as it is carried out, so that the next invocation (Lambda's retry)
    meets the next, and the one after the plan lives. Each invocation's count of AWS calls is
    written beside it too, so that a test knows the points a run has."""

    def __init__(self, log_file: Path) -> None:
        self.plan = log_file.with_suffix(".die-at-call")
        self.count = log_file.with_suffix(".calls")
        self.calls = 0
        self._numbering = threading.Lock()
        original = botocore.session.Session.create_client

        def create_client(session: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            client.meta.events.register("before-call", self._before_call)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign, assignment]

    def next_invocation(self) -> None:
        self.calls = 0

    def _before_call(self, **_: Any) -> None:
        # A run may call from several threads at once: each call gets its own number.
        with self._numbering:
            self.calls += 1
            number = self.calls
            with contextlib.suppress(OSError):
                self.count.write_text(str(number))
        with contextlib.suppress(OSError, ValueError):
            first, *rest = self.plan.read_text().split()
            if int(first) == number:
                if rest:
                    self.plan.write_text(" ".join(rest))
                else:
                    self.plan.unlink()
                os.kill(os.getpid(), signal.SIGKILL)


class FunctionError(RuntimeError):
    """The handler raised: Lambda's 'Unhandled' function error."""


class _Environment:
    """One execution environment: a process that imported the handler, serving one event at a time."""

    def __init__(
        self,
        function: tpl.Function,
        environment: dict[str, str],
        arn: str,
        log_file: Path,
        record_calls: Path | None = None,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker,
            args=(
                child,
                function.module,
                function.entry_point,
                function.name,
                arn,
                function.timeout,
                str(log_file),
                environment,
                None if record_calls is None else str(record_calls),
            ),
            daemon=True,
            name=function.name,
        )
        self.process.start()
        self.ready = False

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()


class LocalFunction:
    """One function of the template: up to ``concurrency`` execution environments, each its own
    process with the function's environment, started when every one already there is busy (as
    Lambda scales a function out, up to its reserved concurrency)."""

    def __init__(
        self,
        function: tpl.Function,
        environment: dict[str, str],
        arn: str,
        log_file: Path,
        concurrency: int = 1,
        record_calls: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.log_file = log_file
        self.record_calls = record_calls
        self.clock = clock or Clock()
        self.function = function
        self.environment = environment
        self.arn = arn
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._idle: list[_Environment] = []
        self._all: list[_Environment] = []
        self.crashes = 0  # invocations whose environment died under them

    def _take(self) -> _Environment:
        with self._lock:
            while self._idle:
                environment = self._idle.pop()
                if environment.process.is_alive():
                    return environment
                if environment in self._all:
                    self._all.remove(environment)
            environment = _Environment(
                self.function, self.environment, self.arn, self.log_file, self.record_calls
            )
            self._all.append(environment)
            return environment

    def _give_back(self, environment: _Environment) -> None:
        with self._lock:
            self._idle.append(environment)

    def _discard(self, environment: _Environment) -> None:
        with self._lock:
            if environment in self._all:
                self._all.remove(environment)
        environment.process.kill()
        environment.process.join(timeout=5)  # reaped, not left a zombie

    def _started(self, environment: _Environment) -> None:
        """Waits for the cold start (the handler's import) as long as the process lives: it is
        not counted in the invocation's timeout, and a busy machine only makes it slower."""
        while not environment.ready:
            if environment.conn.poll(1.0):
                environment.conn.recv()
                environment.ready = True
            elif not environment.process.is_alive():
                self._discard(environment)
                raise FunctionError(f"{self.function.name} crashed while starting (see its log)")

    def warm(self) -> None:
        """Starts one execution environment and waits for its cold start, so that the first event
        does not wait for it (as provisioned concurrency does)."""
        with self._slots:
            environment = self._take()
            self._started(environment)
            self._give_back(environment)

    def die_at_calls(self, *calls: int) -> None:
        """The next invocations die (killed), each just before its AWS call numbered in ``calls``:
        the first invocation at the first number, the next (Lambda's retry) at the second..."""
        plan = self.log_file.with_suffix(".die-at-call")
        if calls:
            plan.write_text(" ".join(str(c) for c in calls))
        else:
            plan.unlink(missing_ok=True)

    def kills_pending(self) -> bool:
        """Whether some of the planned deaths have not happened (an invocation made fewer calls)."""
        return self.log_file.with_suffix(".die-at-call").exists()

    def calls_of_last_invocation(self) -> int:
        """How many AWS calls the last invocation made (before it ended or died)."""
        return int(self.log_file.with_suffix(".calls").read_text())

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> Any:
        """Runs the handler on ``event`` in an execution environment; ``request_id`` is the
        invocation's (Lambda keeps it when it retries an asynchronous invocation)."""
        with self._slots:
            environment = self._take()
            try:
                self._started(environment)
                offset = self.clock.offset.total_seconds()
                environment.conn.send((event, request_id or str(uuid.uuid4()), offset))
                if not environment.conn.poll(self.function.timeout + TIMEOUT_GRACE):
                    self._discard(environment)  # stopped where it was, as Lambda stops a timed-out invocation
                    raise FunctionError(f"{self.function.name} timed out after {self.function.timeout} s")
                status, result = environment.conn.recv()
            except (EOFError, BrokenPipeError, OSError) as error:
                self._discard(environment)
                self.crashes += 1
                raise FunctionError(f"{self.function.name} crashed: {error!r}") from error
            self._give_back(environment)
        if status == "error":
            raise FunctionError(f"{result['errorType']}: {result['errorMessage']}")
        return result

    def peak_memory_mb(self) -> int:
        """The largest peak resident memory of the function's live execution environments (Linux's
        VmHWM): what Lambda reports as "Max Memory Used", for the benchmarks to set MemorySize by."""
        with self._lock:
            pids = [e.process.pid for e in self._all if e.process.is_alive() and e.process.pid]
        peaks = [0]
        for pid in pids:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) // 1024)
        return max(peaks)

    def stop(self) -> None:
        with self._lock:
            environments, self._all, self._idle = self._all, [], []
        for environment in environments:
            environment.stop()


# ---------------------------------------------------------------- the runtime


@dataclass
class Activity:
    """What the runtime is doing, so that drain checks know when the pipeline is quiet."""

    busy: int = 0
    started: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> None:
        with self.lock:
            self.busy += 1
            self.started += 1

    def __exit__(self, *_: object) -> None:
        with self.lock:
            self.busy -= 1


class LocalRuntime:
    """The whole stack on one machine: a moto server, the template's resources, and the runtime."""

    def __init__(
        self,
        api_port: int = 3000,
        aws_port: int = 5000,
        outbox: Path | None = Path("outbox"),
        logs: Path = Path("build/logs"),
        log: Log | None = None,
        template_path: Path = tpl.TEMPLATE,
        concurrency: int = 1,
        rate_limits: bool = True,
    ) -> None:
        """``concurrency``: the most execution environments of one function, and SQS pollers of one
        queue, on this machine; a function's reserved concurrency and an SQS event source's
        maximum concurrency lower it, as they cap Lambda.
        ``rate_limits``: whether the front door plays the template's WAF rate-based rules (off for
        runs that send thousands of requests from this one address on purpose: tests, the load run)."""
        self.api_port = api_port
        self.concurrency = concurrency
        self.aws_port = aws_port
        self.outbox = outbox
        self.logs = logs
        self.log: Log = log or (lambda _: None)
        self.stack = tpl.read(template_path)
        self.firewall = Firewall(rate_rules(self.stack)) if rate_limits else None
        self.physical: dict[str, Physical] = {}
        self.functions: dict[str, LocalFunction] = {}
        self.activity = Activity()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._moto: subprocess.Popen[bytes] | None = None
        self._http: ThreadingHTTPServer | None = None
        self._fired: set[str] = set()
        self._firing = threading.Lock()
        self.clock = Clock()
        self.traces = TraceCollector()
        self._next_rate: dict[str, datetime] = {}
        self._held: dict[str, threading.Event] = {}  # queue -> set while its pollers are held
        self._parked = threading.Condition()
        self._parked_pollers: dict[str, int] = {}
        self._written: set[str] = set()
        self._outbox_lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self.calls: calls.Recorder | None = None
        self._relay_url = ""

    # ------------------------------------------------------------ lifecycle
    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def client(self, service: str) -> Any:
        """One client per service, shared by the runtime's threads (boto3 clients are thread-safe)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(  # type: ignore[call-overload]
                    service, endpoint_url=self.aws_endpoint, region_name=tpl.REGION
                )
            return self._clients[service]

    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", tpl.REGION)
        self._start_moto()
        self.traces.start()
        self.physical = provision(self.stack, self.aws_endpoint)
        if os.environ.get(calls.RECORD_CALLS):
            # Each function's AWS calls, and those Lambda makes with its role, checked by the tests.
            folder = Path(os.environ[calls.RECORD_CALLS]) / f"runtime-{self.aws_port}-{uuid.uuid4().hex[:8]}"
            calls.write_physical(folder, self.physical)
            self.calls = calls.Recorder(folder, label="lambda-service")
        common = {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_DEFAULT_REGION": tpl.REGION,
            "AWS_REGION": tpl.REGION,
            "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
            "LAMBDA_TASK_ROOT": str(_PROJECT),
            "AWS_XRAY_DAEMON_ADDRESS": self.traces.address,
        }
        self.logs.mkdir(parents=True, exist_ok=True)
        for name, function in self.stack.functions.items():
            environment = {
                **common,
                **self._local_addresses(resolved_environment(self.stack, self.physical, name)),
                "AWS_LAMBDA_FUNCTION_NAME": self.physical[name]["Ref"],
                # Tracing as the template sets it: with Active, X-Ray's SDK runs as in Lambda and
                # sends its segments to the collector, so tests see what X-Ray would store.
                "POWERTOOLS_TRACE_DISABLED": "false" if function.tracing else "true",
            }
            log_file = self.logs / f"{name}.log"
            self.functions[name] = LocalFunction(
                function,
                environment,
                self.physical[name]["Arn"],
                log_file,
                concurrency=min(self.concurrency, function.reserved_concurrency or self.concurrency),
                record_calls=None if self.calls is None else self.calls.folder,
                clock=self.clock,
            )
        self._warm_up()
        self._serve_api()
        for source in self.stack.queue_sources:
            # One poller an invocation at once: as many as the function may run, and no more
            # than the event source's maximum concurrency (its ScalingConfig in the template).
            pollers = min(
                self.functions[source.function].concurrency, source.maximum_concurrency or self.concurrency
            )
            for n in range(pollers):
                self._spawn(self._poll, source, name=f"poll-{source.queue}-{n}")
        self._spawn(self._fire_schedules, name="scheduler")
        self._relay_buses()
        if self.outbox is not None:
            self.outbox.mkdir(parents=True, exist_ok=True)
            for old in self.outbox.glob("*.eml"):
                old.unlink()
            self._spawn(self._write_outbox, name="outbox")

    def _local_addresses(self, environment: dict[str, str]) -> dict[str, str]:
        """The API's own address (an execute-api URL with its stage) is this runtime's, locally."""
        api = next(n for n, _ in self.stack.of_type("AWS::Serverless::Api"))
        deployed = f"https://{self.physical[api]['Ref']}.execute-api.{tpl.REGION}.amazonaws.com/{self.physical[api]['Stage']}"
        return {k: v.replace(deployed, f"http://localhost:{self.api_port}") for k, v in environment.items()}

    def _warm_up(self) -> None:
        """One execution environment of every function, started side by side and waited for:
        no request or event of a test then waits for a cold start, however busy the machine."""
        failures: list[BaseException] = []

        def warm(function: LocalFunction) -> None:
            try:
                function.warm()
            except FunctionError as error:
                failures.append(error)

        threads = [threading.Thread(target=warm, args=(f,), daemon=True) for f in self.functions.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise RuntimeError(f"functions could not start: {failures}")

    def stop(self) -> None:
        self._stop.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        for function in self.functions.values():
            function.stop()
        self.traces.stop()
        if self._moto is not None:
            self._moto.terminate()
            try:
                self._moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._moto.kill()
                self._moto.wait()

    def _spawn(self, target: Callable[..., None], *args: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _start_moto(self) -> None:
        """moto in its own process (its state isolated from any other moto in this process), with the
        adjustments of ``moto_server`` for load and concurrency."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self.clock = Clock(self.logs / "clock")
        self._moto = subprocess.Popen(  # noqa: S603 - our own interpreter and moto's entry point
            [sys.executable, "-m", MOTO_SERVER, "-H", "127.0.0.1", "-p", str(self.aws_port)],
            cwd=_PROJECT,
            env={**os.environ, CLOCK_FILE: str(self.clock.file)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # As long as the process lives: moto's imports take longer on a busy machine.
        while True:
            try:
                with urllib.request.urlopen(f"{self.aws_endpoint}/moto-api/", timeout=5):  # noqa: S310
                    return
            except OSError:
                if self._moto.poll() is not None:
                    raise RuntimeError(f"moto server could not start on port {self.aws_port}") from None
                time.sleep(0.1)

    # ------------------------------------------------------------ API Gateway
    def partner_keys(self) -> dict[str, Physical]:
        return partner_api_keys(self.stack, self.physical)

    def _known_key(self, value: str) -> str | None:
        """The key id when ``value`` is an enabled key in a usage plan of this API (as API Gateway checks)."""
        apigateway = self.client("apigateway")
        api_id = self.physical[next(n for n, _ in self.stack.of_type("AWS::Serverless::Api"))]["Ref"]
        for plan in apigateway.get_usage_plans()["items"]:
            if not any(stage["apiId"] == api_id for stage in plan.get("apiStages", [])):
                continue
            for key in apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]:
                if key.get("value") == value:
                    full = apigateway.get_api_key(apiKey=key["id"], includeValue=True)
                    return str(key["id"]) if full.get("enabled", True) else None
        return None

    @property
    def stage(self) -> str:
        """The API's stage name, as template.yaml names it (``dev`` with the default parameters)."""
        (props,) = (p for _, p in self.stack.of_type("AWS::Serverless::Api"))
        return str(self.stack.resolver(self.physical).resolve(props["StageName"]))

    def _route_path(self, address: str) -> str:
        """The path a route sees. As on API Gateway's own domain, ``/{stage}/...`` is served with the
        stage left out of the event's path (and kept in the address); the root serves the same
        routes, for convenience."""
        prefix = f"/{self.stage}"
        if address == prefix or address.startswith(prefix + "/"):
            return address[len(prefix) :] or "/"
        return address

    def handle_http(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, client: str = "127.0.0.1"
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        blocked = self.firewall.check(client, method, parts.path) if self.firewall else None
        if blocked is not None:  # WAF answers in front of API Gateway, before any route
            self.log(f"{method} {parts.path} -> {blocked.status} (WAF rule {blocked.name})")
            return (
                blocked.status,
                {"Content-Type": blocked.content_type, **dict(blocked.headers)},
                blocked.body.encode(),
            )
        path = self._route_path(parts.path)
        for route in self.stack.routes:
            params = route.matches(method, path)
            if params is None:
                continue
            lower = {k.lower(): v for k, v in headers.items()}
            key_id = None
            if route.api_key_required:
                key_id = self._known_key(lower.get("x-api-key", ""))
                if key_id is None:
                    return _json(HTTPStatus.FORBIDDEN, {"message": "Forbidden"})
            if route.iam_auth and not lower.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
                return _json(HTTPStatus.FORBIDDEN, {"message": "Missing Authentication Token"})
            if len(body) > MAX_API_BODY:
                return _json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Request Too Long"})
            event = _proxy_event(
                route, method, path, parts.query, headers, body, params, key_id, lower.get("x-api-key")
            )
            # As API Gateway: the domain the request came in on, and the X-Forwarded headers it adds.
            event["requestContext"]["domainName"] = lower.get("host") or f"127.0.0.1:{self.api_port}"
            forwarded = {"X-Forwarded-Proto": "http", "X-Forwarded-For": client}
            for name in ("headers", "multiValueHeaders"):
                sent = {
                    k: v
                    for k, v in event[name].items()
                    if k.lower() not in {"x-forwarded-proto", "x-forwarded-for"}
                }
                event[name] = {**sent, **{k: v if name == "headers" else [v] for k, v in forwarded.items()}}
            event["requestContext"].update(path=parts.path, stage=self.stage)
            with self.activity:
                try:
                    response = self.functions[route.function].invoke(event)
                except FunctionError as error:
                    self.log(f"{route.function}: {error}")
                    return _json(HTTPStatus.BAD_GATEWAY, {"message": "Internal server error"})
            out_headers = {k: str(v) for k, v in (response.get("headers") or {}).items()}
            for k, values in (response.get("multiValueHeaders") or {}).items():
                if k.lower() == "set-cookie":
                    # One header each, as API Gateway sends them (a comma cannot join cookies).
                    out_headers[k] = "\n".join(str(v) for v in values)
                else:
                    out_headers[k] = ", ".join(str(v) for v in values)
            payload = response.get("body") or ""
            status = int(response.get("statusCode", 200))
            self.log(f"{method} {route.path} -> {status}")  # the route, as API Gateway logs it
            return status, out_headers, payload.encode()
        return _json(HTTPStatus.FORBIDDEN, {"message": "Missing Authentication Token"})

    def _serve_api(self) -> None:
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                status, headers, payload = self._answer()
                self.send_response(status)
                for k, v in headers.items():
                    for line in v.split("\n"):  # Set-Cookie: several cookies, one header each
                        self.send_header(k, line)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _answer(self) -> tuple[int, dict[str, str], bytes]:
                # A length that is not one, or a body that never comes, is the client's error (API
                # Gateway's front door answers 400 too) and never stops the server answering.
                declared = (self.headers.get("Content-Length") or "0").strip()
                if not declared.isdigit():
                    self.close_connection = True
                    return _json(
                        HTTPStatus.BAD_REQUEST, {"message": "Content-Length is not a number of bytes"}
                    )
                self.connection.settimeout(BODY_WAIT)
                try:
                    body = self.rfile.read(int(declared)) if int(declared) else b""
                except TimeoutError:
                    body = b""
                finally:
                    self.connection.settimeout(None)
                if len(body) < int(declared):
                    self.close_connection = True
                    return _json(
                        HTTPStatus.BAD_REQUEST, {"message": "The body is shorter than its Content-Length"}
                    )
                return runtime.handle_http(
                    self.command, self.path, dict(self.headers), body, self.client_address[0]
                )

            def __getattr__(self, name: str) -> Any:
                # Every method reaches the routes (API Gateway answers one no route has with 403).
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", self.api_port), Handler)
        self._spawn(self._http.serve_forever, name="api")

    # ------------------------------------------------------------ SQS event sources
    def _as_function(self, function: str, action: str, resource: str) -> None:
        """Records a call that Lambda makes with the function's execution role (its event source
        mapping polling a queue, its on-failure destination), as the function's own."""
        if self.calls is not None:
            wanted = Authorization(action, resource)
            self.calls.write(calls.Call(function, action, (wanted,)))

    def _poll(self, source: tpl.QueueSource) -> None:
        sqs = self.client("sqs")
        url = self.physical[source.queue]["Ref"]
        arn = self.physical[source.queue]["Arn"]
        function = self.functions[source.function]
        held = self._held.setdefault(source.queue, threading.Event())
        for action in ("sqs:GetQueueAttributes", "sqs:ReceiveMessage"):
            self._as_function(source.function, action, arn)
        while not self._stop.is_set():
            if held.is_set():
                self._park(source.queue, held)
                continue
            try:
                messages = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(source.batch_size, 10),
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception as error:  # noqa: BLE001 - the poller outlives a moto restart or shutdown
                if not self._stop.is_set():
                    self.log(f"poller {source.queue}: {error}")
                time.sleep(0.5)
                continue
            if not messages:
                continue
            with self.activity:
                self._deliver_batch(sqs, url, arn, source, function, messages)

    def _park(self, queue: str, held: threading.Event) -> None:
        """A held poller waits, counted as parked, until the hold is released."""
        with self._parked:
            self._parked_pollers[queue] = self._parked_pollers.get(queue, 0) + 1
            self._parked.notify_all()
        while held.is_set() and not self._stop.is_set():
            time.sleep(0.05)
        with self._parked:
            self._parked_pollers[queue] -= 1

    def hold(self, queue: str) -> None:
        """Stops the event source of ``queue`` (as disabling an event source mapping does): its
        messages wait on the queue until :meth:`release`, or :meth:`step` delivers one."""
        pollers = sum(
            self.functions[q.function].concurrency for q in self.stack.queue_sources if q.queue == queue
        )
        self._held.setdefault(queue, threading.Event()).set()
        with self._parked:
            if not self._parked.wait_for(lambda: self._parked_pollers.get(queue, 0) >= pollers, timeout=60):
                raise TimeoutError(f"the pollers of {queue} did not stop")

    def release(self, queue: str) -> None:
        self._held[queue].clear()

    def step(self, queue: str) -> bool:
        """Delivers one message of a held queue to its function, as a batch of one; False when the
        queue is empty."""
        source = next(q for q in self.stack.queue_sources if q.queue == queue)
        sqs = self.client("sqs")
        url = self.physical[queue]["Ref"]
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1, AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
        if not messages:
            return False
        with self.activity:
            self._deliver_batch(
                sqs, url, self.physical[queue]["Arn"], source, self.functions[source.function], messages
            )
        return True

    def _deliver_batch(
        self,
        sqs: Any,
        url: str,
        arn: str,
        source: tpl.QueueSource,
        function: LocalFunction,
        messages: list[dict[str, Any]],
    ) -> None:
        event = {"Records": [_sqs_record(m, arn) for m in messages]}
        try:
            response = function.invoke(event) or {}
            failed = (
                {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
                if source.report_failures
                else set()
            )
        except FunctionError as error:
            self.log(f"{source.function}: the whole batch failed ({error}); it will be retried")
            failed = {m["MessageId"] for m in messages}
        for m in messages:
            if m["MessageId"] in failed:
                # Lambda leaves a failed message hidden for the rest of its visibility timeout; here
                # it shows again at once, so that retries (and the redrive) do not keep tests waiting.
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self._as_function(source.function, "sqs:DeleteMessage", arn)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        self.log(
            f"{source.function}: processed {len(messages) - len(failed)} of {len(messages)} "
            f"{source.queue} messages" + (f", {len(failed)} to retry" if failed else "")
        )

    # ------------------------------------------------------------ EventBridge Scheduler and rules
    def _fire_schedules(self) -> None:
        started = self.clock.now()
        self._next_rate = {r.name: started + r.interval for r in self.stack.schedules}
        while not self._stop.wait(1.0):
            try:
                now = self.clock.now()
                self.fire_due(now)
                due = [r for r in self.stack.schedules if self._next_rate[r.name] <= now]
                for rule in due:
                    self._next_rate[rule.name] = now + rule.interval
                    self._spawn(self._scheduled, rule, now, name=f"rate-{rule.name}")
            except Exception as error:  # noqa: BLE001 - keep the scheduler alive
                if not self._stop.is_set():
                    self.log(f"scheduler: {error}")

    def fire_rate_schedules(self, now: datetime) -> list[str]:
        """Delivers every ``Schedule`` event of the template once, as if its rule fired at ``now``
        (the event's time), and waits for the functions to finish; returns the rules' names."""
        for rule in self.stack.schedules:
            self._scheduled(rule, now)
        return [rule.name for rule in self.stack.schedules]

    def _scheduled(self, rule: tpl.RateSchedule, now: datetime) -> None:
        """The "Scheduled Event" an EventBridge rule with a schedule expression puts to its target."""
        arn = f"arn:aws:events:{tpl.REGION}:{tpl.ACCOUNT}:rule/{rule.name}"
        self._invoke_async(rule.function, _event("aws.events", "Scheduled Event", {}, [arn], now))

    def fire_due(self, now: datetime) -> list[str]:
        """Fires every schedule whose at() time has come; returns their names. One caller at a time
        (a test's and the background scheduler's), so that each schedule fires once."""
        with self._firing:
            return self._fire_due(now)

    def _fire_due(self, now: datetime) -> list[str]:
        scheduler = self.client("scheduler")
        fired = []
        for summary in scheduler.list_schedules()["Schedules"]:
            name, group = summary["Name"], summary.get("GroupName", "default")
            if f"{group}/{name}" in self._fired:
                continue
            schedule = scheduler.get_schedule(Name=name, GroupName=group)
            due = _at_time(schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone", "UTC"))
            if due is None or due > now or schedule.get("State") == "DISABLED":
                continue
            self._fired.add(f"{group}/{name}")
            target = schedule["Target"]
            parameters = target.get("EventBridgeParameters", {})
            self.log(f"scheduler: {name} is due; putting {parameters.get('DetailType')} on the bus")
            self.put_event(
                parameters.get("Source", ""),
                parameters.get("DetailType", ""),
                json.loads(target.get("Input") or "{}"),
                resources=[schedule["Arn"]],
                bus_arn=target["Arn"],
                time=now,
            )
            if schedule.get("ActionAfterCompletion") == "DELETE":
                scheduler.delete_schedule(Name=name, GroupName=group)
            fired.append(name)
        return fired

    def put_event(
        self,
        source: str,
        detail_type: str,
        detail: dict[str, Any],
        resources: list[str] | None = None,
        bus_arn: str | None = None,
        wait: bool = False,
        time: datetime | None = None,
    ) -> None:
        """Delivers an event as EventBridge would: to every rule on the bus whose pattern matches,
        asynchronously, with the function's retries and then its dead-letter queue. ``time`` is the
        event's time (now, unless a test moves the clock)."""
        event = _event(source, detail_type, detail, resources or [], time or self.clock.now())
        resolver = self.stack.resolver(self.physical)
        for rule in self.stack.rules:
            bus = resolver.resolve(rule.bus) if rule.bus else "default"
            if bus_arn is not None and not bus_arn.endswith(f"event-bus/{bus}"):
                continue
            if tpl.pattern_matches(rule.pattern, event):
                if wait:
                    self._invoke_async(rule.function, event)
                else:
                    self._spawn_async(rule.function, event)

    RELAY = "local-runtime-relay"

    def _relay_buses(self) -> None:
        """What a function puts on an event bus (a coordinator's re-run announces a deadline) reaches
        the functions whose rule matches it: moto keeps the rules of the template's functions only
        as the template says, so every event of the bus goes to one queue, whose poller delivers it
        by the template's rules."""
        sqs, events = self.client("sqs"), self.client("events")
        url = sqs.create_queue(QueueName=f"mentoring-local-{self.RELAY}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        resolver = self.stack.resolver(self.physical)
        for bus in {str(resolver.resolve(rule.bus)) for rule in self.stack.rules if rule.bus}:
            events.put_rule(
                Name=self.RELAY, EventBusName=bus, EventPattern=json.dumps({"account": [tpl.ACCOUNT]})
            )
            events.put_targets(Rule=self.RELAY, EventBusName=bus, Targets=[{"Id": "relay", "Arn": arn}])
        self._relay_url = url
        self._spawn(self._relay, url, name="bus-relay")

    def _relay(self, url: str) -> None:
        sqs = self.client("sqs")
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                    "Messages", []
                )
            except Exception as error:  # noqa: BLE001 - the relay outlives a moto restart or shutdown
                if not self._stop.is_set():
                    self.log(f"bus relay: {error}")
                time.sleep(0.5)
                continue
            for message in messages:
                with self.activity:  # until its invocations are spawned (they count themselves)
                    put = json.loads(message["Body"])
                    self.log(f"bus: {put.get('detail-type')} from {put.get('source')}")
                    self.put_event(
                        put.get("source", ""),
                        put.get("detail-type", ""),
                        put.get("detail", {}),
                        resources=put.get("resources", []),
                    )
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def _spawn_async(self, name: str, event: dict[str, Any]) -> None:
        """An asynchronous invocation on a thread of its own, counted as activity from now (so that
        a drain never sees the pipeline quiet between the event and its thread)."""
        self.activity.__enter__()

        def run() -> None:
            try:
                self._invoke_async(name, event)
            finally:
                self.activity.__exit__()

        self._spawn(run, name=f"async-{name}")

    def _invoke_async(self, name: str, event: dict[str, Any]) -> None:
        """Lambda's asynchronous invocation: retried after a function error (a crash or a timeout
        included) under the same request id, as Lambda retries, then the on-failure destination."""
        function = self.functions[name]
        attempts = function.function.max_retries + 1
        error: FunctionError | None = None
        request_id = str(uuid.uuid4())
        with self.activity:
            for attempt in range(attempts):
                try:
                    result = function.invoke(event, request_id=request_id)
                    self.log(f"{name}: {json.dumps(result)}")
                    return
                except FunctionError as failure:
                    error = failure
                    self.log(f"{name}: attempt {attempt + 1} failed: {failure}")
            target = function.function.dead_letter_target
            if target is not None:
                arn = self.stack.resolver(self.physical).resolve(target)
                queue = next(p["Ref"] for p in self.physical.values() if p.get("Arn") == arn)
                # The invocation record an on-failure destination receives.
                record = {
                    "version": "1.0",
                    "timestamp": datetime.now(UTC).isoformat(),
                    "requestContext": {
                        "requestId": request_id,
                        "functionArn": function.arn,
                        "condition": "RetriesExhausted",
                        "approximateInvokeCount": attempts,
                    },
                    "requestPayload": event,
                    "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
                    "responsePayload": {"errorMessage": str(error)},
                }
                self._as_function(name, "sqs:SendMessage", arn)
                self.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(record))
                self.log(f"{name}: event parked on the dead-letter queue")

    # ------------------------------------------------------------ observing
    def _write_outbox(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.sync_outbox()
            except OSError:
                continue

    def confirmation_tokens(self) -> dict[str, list[str]]:
        """The confirmation links sent so far, by recipient (their tokens, oldest first)."""
        return confirmation_tokens(raw for _, raw in sent_emails(self.aws_endpoint))

    def confirmation_link(self, address: str, seen: int = 0, timeout: float = 300.0) -> str:
        """The token of the newest confirmation link emailed to ``address`` once more than ``seen``
        have been, waiting for notify to send it (however busy the machine: the timeout only stops
        a pipeline that is stuck)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tokens = self.confirmation_tokens().get(address, [])
            if len(tokens) > seen:
                return tokens[-1]
            time.sleep(0.5)
        raise TimeoutError(f"no confirmation link reached {address} in {timeout} s")

    def sync_outbox(self) -> int:
        """Writes each email moto's SES accepted since the last call to the outbox; returns the total."""
        if self.outbox is None:
            return 0
        with self._outbox_lock:
            for message_id, raw in sent_emails(self.aws_endpoint):
                if message_id in self._written:
                    continue
                self._written.add(message_id)
                number = len(self._written)
                (self.outbox / f"{number:04d}-{message_id[:24]}.eml").write_bytes(raw)
                subject = next(
                    (
                        line[9:]
                        for line in raw.decode(errors="replace").splitlines()
                        if line.startswith("Subject: ")
                    ),
                    "",
                )
                self.log(f"email {number} sent: {subject}")
            return len(self._written)

    def _depth(self, url: str) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def queue_depths(self) -> dict[str, int]:
        return {
            name: self._depth(self.physical[name]["Ref"]) for name, _ in self.stack.of_type("AWS::SQS::Queue")
        }

    def wait_until_drained(self, stall: float = STALL_LIMIT) -> None:
        """Returns once every consumed queue is empty and nothing runs, three checks in a row (a
        held queue keeps its messages, and is not waited for). A received message counts (as not
        visible) until its batch is done, and a function's sends finish before it does, so checks
        a tenth of a second apart are enough: tests read the stack after each step.

        Raises only when the pipeline is stuck: work is left, nothing runs, and nothing has
        changed for ``stall`` seconds. A slow machine waits as long as it needs."""
        held = {queue for queue, event in self._held.items() if event.is_set()}
        consumed = {s.queue for s in self.stack.queue_sources} - held | {self.RELAY}
        quiet = 0
        last: object = None
        changed = time.monotonic()
        while True:
            depths = {**self.queue_depths(), self.RELAY: self._depth(self._relay_url)}
            busy, invocations = self.activity.busy, self.activity.started
            if busy == 0 and all(depths[q] == 0 for q in consumed):
                quiet += 1
                if quiet >= 3:
                    return
            else:
                quiet = 0
            state = (sorted(depths.items()), busy, invocations)
            if state != last or busy:
                last, changed = state, time.monotonic()
            elif time.monotonic() - changed > stall:
                raise TimeoutError(f"the pipeline is stuck: nothing moved for {stall:.0f} s: {depths}")
            time.sleep(0.1)

    def dead_letter_counts(self) -> dict[str, int]:
        sources = {s.queue for s in self.stack.queue_sources}
        return {name: depth for name, depth in self.queue_depths().items() if name not in sources}


# ---------------------------------------------------------------- event shapes


def _event(
    source: str, detail_type: str, detail: dict[str, Any], resources: list[str], at: datetime
) -> dict[str, Any]:
    """An EventBridge event as a rule delivers it to a function."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": tpl.ACCOUNT,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": tpl.REGION,
        "resources": resources,
        "detail": detail,
    }


# How long the local API waits for a body its headers announced (on loopback it comes at once).
BODY_WAIT = 3.0


def _json(status: HTTPStatus, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return int(status), {"Content-Type": "application/json"}, json.dumps(body).encode()


def _proxy_event(
    route: tpl.Route,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    params: dict[str, str],
    key_id: str | None,
    key: str | None,
) -> dict[str, Any]:
    """An API Gateway REST proxy integration event (payload version 1.0)."""
    # A blank value is kept, as API Gateway keeps it (?cohort= is {"cohort": ""}).
    multi_query = parse_qs(query, keep_blank_values=True) if query else {}
    multi_headers: dict[str, list[str]] = {}
    for k, v in headers.items():
        multi_headers.setdefault(k, []).append(v)
    now = datetime.now(UTC)
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": path,
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "accountId": tpl.ACCOUNT,
            "protocol": "HTTP/1.1",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {
                "sourceIp": "127.0.0.1",
                "apiKey": key if key_id else None,
                "apiKeyId": key_id,
                "userAgent": headers.get("User-Agent", ""),
            },
        },
        "body": body.decode("utf-8", errors="replace") if body else None,
        "isBase64Encoded": False,
    }


def _sqs_record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": tpl.REGION,
    }


def _at_time(expression: str, timezone: str) -> datetime | None:
    """The instant of a one-time ``at(yyyy-mm-ddThh:mm:ss)`` schedule, or None for rate/cron."""
    if not (expression.startswith("at(") and expression.endswith(")")):
        return None
    local = datetime.fromisoformat(expression[3:-1])
    return local.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)
