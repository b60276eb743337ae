"""A cookie-free launch in headless Chromium: the LMS's course page frames holdout and offers its
client-side storage; the browser drops holdout's state cookie (as Safari, or Chrome without
third-party cookies, does in an iframe); the launch still opens the question, through
lti.put_data and lti.get_data between holdout's pages and the LMS's frame."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Route, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, Deployment

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_a_launch_without_the_state_cookie_works_through_the_lms_storage(
    deployment: Deployment, browser: Browser
) -> None:
    # A page whose answer the test rewrote has no address space, so Chromium's local network
    # checks would stop it from going on to the LMS on 127.0.0.1: this browser does not check.
    own = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_FLAGS, "--disable-features=LocalNetworkAccessChecks"],
    )
    try:
        launch_without_the_state_cookie(deployment, own)
    finally:
        own.close()


def launch_without_the_state_cookie(deployment: Deployment, browser: Browser) -> None:
    platform = deployment.platform
    context = browser.new_context()
    page = context.new_page()
    dropped: list[str] = []

    def drop_state_cookie(route: Route) -> None:
        """holdout's login answer reaches the browser without its Set-Cookie."""
        answer = route.fetch(max_redirects=0)
        # route.fetch keeps the cookies it is sent in the context's store: forget those too.
        context.clear_cookies(name=re.compile("^holdout-lti-state-"))
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "set-cookie"}
        if len(headers) != len(answer.headers):
            dropped.append(route.request.url)
        route.fulfill(response=answer, headers=headers)

    page.route(f"{deployment.base}/lti/login", drop_state_cookie)
    hint = platform.prepare(platform.claims("alice", custom={"question": "dropout"}))
    page.goto(f"{platform.base}/course/{hint}")

    tool = page.frame_locator("iframe[name=tool]")
    expect(tool.get_by_role("heading", name="Inverted dropout", level=1)).to_be_visible(
        timeout=30_000
    )
    assert dropped, "the state cookie was never set, so the test proves nothing"
    assert not [c for c in context.cookies() if c["name"].startswith("holdout-lti-state-")]
    expect(page.locator("body")).to_have_attribute(
        "data-storage-calls", "lti.put_data lti.get_data "
    )
    page.screenshot(path=str(deployment.shots / "8-cookie-free-launch.png"), full_page=True)
