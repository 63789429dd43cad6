"""Fixtures of the app's tests: tiny trained runs of the four models, the
app on them in-process (TestClient) and live on a free port (for the
browser and concurrent clients), and headless Chromium."""

import pytest

from digitsuite.app import server
from digitsuite.app.session import Session
from tests.app.pages import CHROMIUM, PHONE, launch, local_client
from tests.support import SAMPLE_DIR, run_script


@pytest.fixture(scope="session")
def app_runs(tmp_path_factory):
    """A runs folder with lr/, rf/ and dense/ from ``baselines.py --dry-run``
    (a small forest keeps it quick)."""
    runs = tmp_path_factory.mktemp("app-runs")
    run_script("baselines", ["--dry-run", "--data-dir", SAMPLE_DIR, "--rf-trees", 30,
                             "--out-dir", runs])
    return runs


@pytest.fixture(scope="session")
def session(app_runs, reader_model):
    """The app's models: the three baselines and, as the CNN and the page
    reader, the small CNN the reader tests use (a --dry-run seed CNN reads
    too few digits right to be asked for a '7')."""
    return Session(app_runs, model=reader_model, reader=reader_model)


@pytest.fixture(scope="session")
def client(session):
    with local_client(server.create_app(session)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def live_url(session):
    """The app served by uvicorn in a thread, on a free port."""
    with server.running(server.create_app(session)) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium through Playwright (no browser download)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium "
                    "(.ci/run installs it)")
    with launch() as chromium:
        yield chromium


def open_page(browser, url, **context_args):
    """A fresh page of the app at ``url``, loaded and ready, and the list
    its script errors and console errors go to (the 4xx answers the tests
    ask for aside)."""
    context = browser.new_context(accept_downloads=True, **context_args)
    tab = context.new_page()
    problems = []
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error"
           and not msg.text.startswith("Failed to load resource") else None)
    tab.goto(url)
    tab.wait_for_selector("body[data-ready=true]")
    return tab, problems


@pytest.fixture
def page(browser, live_url):
    """The app in a desktop browser window; fails the test on any script
    or console error."""
    tab, problems = open_page(browser, live_url, viewport={"width": 1200, "height": 900})
    yield tab
    tab.context.close()
    assert not problems, problems


@pytest.fixture
def phone(browser, live_url):
    """The app on a phone (390x844, touch); fails the test on any script or
    console error."""
    tab, problems = open_page(browser, live_url, **PHONE)
    yield tab
    tab.context.close()
    assert not problems, problems
