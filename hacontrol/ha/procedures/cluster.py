"""Procedures on the whole cluster: a planned switchover (Set Active) and HA tuning."""

from __future__ import annotations

from functools import partial

from hacontrol.ha.models import JobKind, Member, State
from hacontrol.ha.procedures.base import JobContext, Procedure, Snapshot, Step, StepFailed
from hacontrol.ha.procedures.members import inspect_host, original, service_step, write_preferences


def switchover(ctx: JobContext) -> list[Step]:
    """Make the chosen member Active by Central's own rules, keeping the priorities (they mirror
    Micetro's list): stop the Active member and every running member Central might choose before
    the target (params['stop'], worked out when the job was asked for), wait until Central has
    failed over (ha_tweaks_central: once the Active member's heartbeat is older than
    HeartbeatMaxAllowedDowntime), check the target is Active, then start the others again: they
    return as Standby (health bar: "The former active server will be in failed state until it is
    fixed or restarted")."""
    target = ctx.member
    stopping = ctx.members(ctx.job.params.get("stop", []))

    def check_ready() -> None:
        state, reason = ctx.states()[target.pk]
        if state == State.ACTIVE:
            raise StepFailed(f"{target.name} is already the Active member")
        if Member.objects.get(pk=target.pk).serving_since is None:
            raise StepFailed(f"{target.name} is {State(state).label} ({reason}): it must be serving to take over")
        if ctx.cluster.active_member_id != ctx.job.params.get("active"):
            raise StepFailed("the cluster changed since Set Active was asked for (another member is Active now): ask again")
        for member in stopping:
            ctx.remember(member, Snapshot(running=ctx.service_state(member).running))
        ctx.log("to stop, so that Central can only choose " + target.name + ": "
                + (", ".join(m.name for m in stopping) or "nobody"))

    steps = [Step(f"Check {target.name} is running and can take over", check_ready)]
    steps += [service_step(ctx, member, "stop") for member in stopping]
    def wait_for_failover() -> None:
        ctx.wait_for_states({target: {State.ACTIVE}}, "Active")

    steps.append(Step(f"Wait for Central to fail over to {target.name}", wait_for_failover))
    for member in stopping:
        steps.append(Step(f"Start Central on {member.name} again", partial(ctx.restore_service, member)))
    steps.append(Step(f"Check {target.name} is Active and " + (", ".join(m.name for m in stopping) or "the others")
                      + " Standby",
                      lambda: ctx.wait_for_states({target: {State.ACTIVE}, **{m: {State.STANDBY} for m in stopping
                                                                               if ctx.snapshot(m).running}}, "")))
    return steps


def tune(ctx: JobContext) -> list[Step]:
    """Apply heartbeat settings to every member: the secondaries first, the Active member last
    (params['order']), each restarted in turn so only one member is ever down."""
    settings = ctx.job.params["settings"]
    changes = {
        "HeartbeatInterval": str(settings["interval"]) if settings.get("interval") else None,
        "HeartbeatMaxAllowedDowntime": str(settings["max_downtime"]) if settings.get("max_downtime") else None,
    }
    described = ", ".join(f"{k}={v}" for k, v in changes.items() if v) or "Central's defaults"
    members: list[Member] = ctx.members(ctx.job.params["order"])
    steps = []
    for member in members:
        steps += [
            inspect_host(ctx, member, require_ha=False),
            write_preferences(ctx, member, original(ctx, member), changes, f"Set {described} on {member.name} (backup first)"),
            service_step(ctx, member, "restart"),
        ]
    steps.append(Step("Check one member is Active and the rest Standby", lambda: expect_ha_back(ctx, members)))
    return steps


def expect_ha_back(ctx: JobContext, members: list[Member]) -> None:
    """Every member that ran before the job serves again, and one of them is Active."""
    serving = [m for m in members if ctx.snapshot(m).running]
    ctx.wait_for_states({m: {State.ACTIVE, State.STANDBY} for m in serving}, "serving")
    if serving and ctx.cluster.active_member_id is None:
        raise StepFailed(f"every member runs, but hacontrol cannot tell which is Active: {ctx.cluster.ha_note}")


PROCEDURES = [
    Procedure(JobKind.SWITCHOVER, switchover, "make the chosen member the Active one by Central's own failover "
              "(a planned switchover)", scope="cluster"),
    Procedure(JobKind.TUNE, tune, "apply heartbeat settings to every member", scope="cluster"),
]
