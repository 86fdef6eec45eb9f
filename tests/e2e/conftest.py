"""A running local stack for the tests that use it as real clients do (schemathesis, a browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from infrastructure.local.client import ApiClient
from infrastructure.local.runtime import LocalRuntime
from tests.conftest import free_port

SCREENSHOTS = Path(__file__).parents[2] / "build" / "screenshots"
DOWNLOADS = Path(__file__).parents[2] / "build" / "downloads"
# A hang guard, not a speed target: the functions are warm (the runtime starts them first), so a
# page waits only for its request, however busy the machine.
PAGE_WAIT = 300
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        message = "Debian's chromium and chromium-driver are not installed (make browser installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager reach for the network
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(DOWNLOADS), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1024, 1400)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


# The open cohort's id is known before the stack starts, so that schemathesis can build its cases
# from the cohort's own document when the tests are collected.
CONTRACT_COHORT = "open-contract"
CONTRACT_SCHEME = "b-mentor-professional"


@dataclass
class OpenStack:
    runtime: LocalRuntime
    api: ApiClient
    cohort_id: str
    partner_key: str


@pytest.fixture(scope="session")
def open_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenStack]:
    """The stack with one open B-MEntor Professional cohort, its deadline an hour away."""
    folder = tmp_path_factory.mktemp("open-stack")
    with LocalRuntime(
        api_port=free_port(),
        aws_port=free_port(),
        outbox=folder / "outbox",
        logs=folder / "logs",
        rate_limits=False,  # schemathesis sends hundreds of requests from this one address
    ) as runtime:
        api = ApiClient(runtime.api_url)
        deadline = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
        cohort_id = CONTRACT_COHORT
        request = {
            "cohort_id": cohort_id,
            "scheme_id": CONTRACT_SCHEME,
            "name": "Browser and contract cohort",
            "recruitment_deadline": deadline.isoformat(),
            "coordinator_email": "edi@example.ac.uk",
        }
        reply = api.signed("POST", "/cohorts", request)
        assert reply.status == 201, reply.body
        # The public door's first answer is a cold start, which a busy machine can take well over
        # the tests' 10 s for; it is taken here, with time to spare, so no test measures it.
        assert requests.get(f"{runtime.api_url}/openapi.json", timeout=180).status_code == 200
        yield OpenStack(runtime, api, cohort_id, runtime.partner_keys()["UCL"]["value"])
