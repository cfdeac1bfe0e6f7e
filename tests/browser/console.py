"""What the browser tests of the console share: reading the panel as an administrator sees it,
comparing it with the simulated Central's truth, following a job's page, and the accessibility
checks every page must pass."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from playwright.sync_api import Page, expect

from hacontrol.ha.models import Job

JOB_URL = re.compile(r"/jobs/(\d+)/$")
# What the page says of a job that has not ended.
UNFINISHED = re.compile("In progress|Waiting")


def wait_for(condition: Callable[[], object], seconds: float = 30, what: str = "", every: float = 0.3):
    """Poll ``condition`` until it is truthy; returns its value."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(every)
    return value


def job_on_page(page: Page) -> Job:
    page.wait_for_url(JOB_URL)
    return Job.objects.get(pk=int(JOB_URL.search(page.url).group(1)))


def expect_job_to_end(page: Page, status: str = "Succeeded", timeout: float = 90) -> Job:
    """Wait on the job's page, without reloading it, until the job ends; assert how it ended."""
    job = job_on_page(page)
    label = page.locator("#job-status")
    expect(label).not_to_have_text(UNFINISHED, timeout=timeout * 1000)
    job.refresh_from_db()
    steps = [(step.name, step.status, step.error) for step in job.steps.all()]
    assert label.inner_text().strip() == status, (job.error, steps)
    return job


def expect_job_to_wait_for_micetro(page: Page, text: str) -> Job:
    """The job's page says, without a reload, what to do in Micetro and offers to continue."""
    job = job_on_page(page)
    expect(page.locator("#job-status")).to_have_text("Waiting for you", timeout=30000)
    expect(page.locator("#job [role=alert]")).to_contain_text(text)
    expect(page.locator("#job [role=alert]")).to_contain_text("Admin → Configuration → High Availability")
    return job


def panel_states(page: Page) -> dict[str, str]:
    """Each member's badge in the panel's table, as shown (ACTIVE, STANDBY, OFFLINE...)."""
    rows = page.locator("#members table.members tbody tr")
    states = {}
    for row in rows.all():
        states[row.locator("th").inner_text().strip()] = row.locator(".badge").inner_text().strip()
    return states


class TruthWatch:
    """Reads the panel and the simulated Central's truth side by side. A member the panel calls
    ACTIVE must be one the truth has shown active since the watch began (the panel lags Central,
    so an Active shown a moment after Central moved on is late, not wrong); the panel must never
    call a member ACTIVE before Central made it so."""

    def __init__(self, page: Page, micetro) -> None:
        self.page, self.micetro = page, micetro
        self.ever_active: set[str] = set()
        self.looks: list[tuple[float, dict[str, str], dict[str, str]]] = []

    def look(self) -> dict[str, str]:
        self.ever_active.update(name for name, state in self.micetro.truth().items() if state == "active")
        shown = panel_states(self.page)
        truth = self.micetro.truth()
        self.ever_active.update(name for name, state in truth.items() if state == "active")
        self.looks.append((time.monotonic(), shown, truth))
        early = [name for name, badge in shown.items() if badge == "ACTIVE" and name not in self.ever_active]
        assert not early, f"the panel calls {early} ACTIVE before Central did: panel {shown}, truth {truth}"
        return shown

    def until(self, wanted: Callable[[dict[str, str]], bool], seconds: float, what: str) -> dict[str, str]:
        """Look every half second, without reloading, until the panel shows what is wanted."""
        deadline = time.monotonic() + seconds
        while True:
            shown = self.look()
            if wanted(shown):
                return shown
            assert time.monotonic() < deadline, f"the panel never showed {what}: last {shown}, truth {self.micetro.truth()}"
            time.sleep(0.5)

    def forget_history(self) -> None:
        """Call just before an event: only the member Active now and those Central makes Active
        from now on may be shown ACTIVE."""
        self.ever_active = {name for name, state in self.micetro.truth().items() if state == "active"}


def unlabelled_fields(page: Page, scope: str = "body") -> list[str]:
    """Form controls inside ``scope`` that are visible and have no accessible label."""
    return page.evaluate(
        """(scope) => [...document.querySelectorAll(`${scope} input, ${scope} select, ${scope} textarea`)]
            .filter(c => c.type !== 'hidden' && c.getClientRects().length)
            .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label') && !c.getAttribute('aria-labelledby'))
            .map(c => c.outerHTML)""", scope)


def nameless_controls(page: Page) -> list[str]:
    """Buttons and links with no accessible name (no text, no aria-label, no title)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('button, a[href], [role=button]')]
            .filter(c => c.getClientRects().length)
            .filter(c => !(c.innerText || '').trim() && !c.getAttribute('aria-label') && !c.getAttribute('title')
                         && !c.getAttribute('aria-labelledby'))
            .map(c => c.outerHTML)""")


def colour_only_statuses(page: Page) -> list[str]:
    """Badges and status marks whose meaning would be in their colour only (no text)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.badge, .status')]
            .filter(c => c.getClientRects().length && !(c.innerText || '').trim() && !c.getAttribute('aria-label'))
            .map(c => c.outerHTML)""")


def expect_accessible(page: Page) -> None:
    """The checks that matter on every page: labelled fields, named buttons and links, no status
    told by colour alone, and a live region that announces what changes."""
    assert not unlabelled_fields(page), unlabelled_fields(page)
    assert not nameless_controls(page), nameless_controls(page)
    assert not colour_only_statuses(page), colour_only_statuses(page)
