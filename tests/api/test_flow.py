"""The API end to end, on the SSH test hosts running the simulated Central, with a real worker
process: add a member, follow its job, do the Micetro step it waits for and confirm it through the
API, then read the states from the API and from /metrics. What the API says is compared with
the simulator's truth, which hacontrol itself never reads."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import token_client
from tests.conftest import do_in_micetro, linux_member_values, start_worker, stop_worker

ENDED = {"succeeded", "failed", "cancelled"}


def follow(api, url: str, until: set[str], timeout: float = 60) -> dict:
    """GET the job until its status is one of ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(url).json()
        if job["status"] in until:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout} s: {job}"
        time.sleep(0.3)


def add_through_the_api(api, cluster, host, key, name: str, micetro) -> dict:
    response = api.post("/api/members/", {"cluster": cluster.pk, "name": name, **linux_member_values(host, key)},
                        format="json")
    assert response.status_code == 202, response.content
    url = response["Location"]
    job = follow(api, url, {"waiting"} | ENDED)
    assert job["status"] == "waiting", job
    assert job["waiting"]["action"] == "register" and job["waiting"]["name"] == name
    do_in_micetro(micetro, job["waiting"])
    confirmed = api.post(url + "confirm/")
    assert confirmed.status_code == 202 and confirmed["Location"] == url
    job = follow(api, url, ENDED)
    assert job["status"] == "succeeded", job["error"] or job["steps"]
    return job


def states_in_metrics(api) -> dict[str, str]:
    text = api.get("/metrics").content.decode()
    return {sample.labels["member"]: sample.labels["state"]
            for family in text_string_to_metric_families(text) if family.name == "hacontrol_member_state"
            for sample in family.samples if sample.value == 1}


def test_adding_members_through_the_api_runs_end_to_end(cluster, ssh_hosts, client_key, micetro, admin):
    api = token_client(admin)
    worker = start_worker()
    try:
        first = add_through_the_api(api, cluster, ssh_hosts[0], client_key, "central1", micetro)
        assert [s["status"] for s in first["steps"]] == ["succeeded"] * len(first["steps"])
        assert any("In Micetro: add central1" in s["name"] for s in first["steps"])
        add_through_the_api(api, cluster, ssh_hosts[1], client_key, "central2", micetro)
    finally:
        stop_worker(worker)
    assert micetro.truth() == {"central1": "active", "central2": "standby"}
    members = api.get(f"/api/members/?cluster={cluster.pk}").json()["results"]
    assert {m["name"]: (m["state"], m["registered"], m["version"]) for m in members} == {
        "central1": ("active", True, "11.0.3"), "central2": ("standby", True, "11.0.3")}
    assert all(m["last_seen"] and m["clock_skew"] is not None for m in members)
    assert states_in_metrics(api) == {"central1": "active", "central2": "standby"}
    jobs = api.get(f"/api/jobs/?cluster={cluster.pk}&status=succeeded").json()
    assert jobs["count"] == 2
    audit = api.get(f"/api/audit/?cluster={cluster.pk}&action=job confirm").json()
    assert audit["count"] == 2 and {e["actor"] for e in audit["results"]} == {"alice"}
