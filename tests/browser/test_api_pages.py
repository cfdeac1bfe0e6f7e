"""The API's pages in headless Chromium, under the console's Content-Security-Policy (no inline
script or style): the Swagger UI documentation page, served from our own static files, really
renders and calls the API with the session; the tokens page makes a token that opens the API."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import sign_in

pytestmark = pytest.mark.browser


def watch(page, base_url: str) -> tuple[list[str], list[str]]:
    """Collect CSP violations (and other console errors) and requests leaving the console."""
    problems: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda request: foreign.append(request.url)
            if not request.url.startswith((base_url, "data:")) else None)
    return problems, foreign


def test_the_api_documentation_renders_under_our_csp_and_calls_the_api(page, admin, live_server):
    problems, foreign = watch(page, live_server.url)
    sign_in(page, "alice", "alice-pass-1")
    response = page.goto("/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("hacontrol API", timeout=15000)
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() >= 28
    clusters = page.locator(".opblock-get", has=page.locator("[data-path='/api/clusters/']"))
    clusters.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    expect(page.locator(".live-responses-table tr.response .response-col_status").first).to_have_text("200")
    assert not problems, problems
    assert not foreign, f"requests left the console: {foreign}"


def test_a_token_made_on_the_page_opens_the_api(page, viewer, live_server):
    sign_in(page, "victor", "victor-pass-1")
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("grafana")
    page.get_by_role("button", name="Make token").click()
    token = page.locator("#new-token").inner_text()
    answer = page.request.get(f"{live_server.url}/api/clusters/", headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200 and answer.json()["count"] == 0
    page.goto("/tokens/")
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.get_by_role("cell", name="grafana")).to_be_visible()
