"""The vendor's steps 11 and 12 (central_ha): "create a round robin DNS name for the high
availability setup" and "log in ... using the domain name set in the DNS" to verify it.

The name is changed by one RFC 2136 update signed with the cluster's TSIG key, only if its A and
AAAA records are still what was read (hacontrol.lib.dnsupdate); the undo sends the opposite update
with the prerequisite that the records are still what the change left, so neither ever
overwrites somebody else's change. Verifying resolves the name and connects to Central's port at
every address in the answer; the Active member's must accept.
"""

from __future__ import annotations

from collections.abc import Callable

from hacontrol.ha.models import JobKind, Member
from hacontrol.ha.probe import check_dns
from hacontrol.ha.procedures.base import JobContext, Procedure, Step, StepFailed
from hacontrol.lib import dnsupdate
from hacontrol.lib.dnsupdate import DnsUpdateError, Plan, RRsets


def update_step(ctx: JobContext, title: str, plan_now: Callable[[], Plan], *, key: str,
                if_failed: str = "") -> Step:
    """Plan (``plan_now``), then send one signed update; check the zone's primary server holds what
    was planned; undo by the opposite update. With ``if_failed`` the step never fails: what went
    wrong is logged and ``if_failed`` becomes a task for an administrator (a member's record must
    not undo the member's own procedure)."""
    cluster = ctx.cluster
    name = cluster.dns_name
    failed: list[str] = []

    def soft(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            if failed:
                return
            try:
                work()
            except (DnsUpdateError, StepFailed) as error:
                if not if_failed:
                    raise StepFailed(str(error)) from None
                failed.append(str(error))
                ctx.log(f"{name} was not changed as planned: {error}")
                ctx.follow_up(f"{if_failed} ({error})")

        return run

    def action() -> None:
        target = cluster.dns_target()
        plan = plan_now()
        for note in plan.notes:
            ctx.log(note)
        ctx.log(f"{name} on {target.server}: {plan.before.describe()}")
        if not plan.changes:
            ctx.log("nothing to change")
            return
        ctx.log(f"one update signed with {target.key_name} ({target.algorithm}), applied only if the records are "
                f"still as read: {plan.describe()}")
        # Kept before sending: whoever undoes this step (after a crash too) finds out from the
        # zone itself whether the update was applied.
        ctx.keep(key, {"before": plan.before.as_json(), "after": plan.after().as_json()})
        dnsupdate.apply(target, plan)
        ctx.log(f"{target.server} applied it")

    def check() -> None:
        entry = ctx.vault.get(key)
        if not entry:
            return
        target = cluster.dns_target()
        now, wanted = dnsupdate.read(target, name), RRsets.from_json(entry["after"])
        if not now.same_records(wanted):
            raise StepFailed(f"{name} on {target.server} holds {now.describe()}, not {wanted.describe()}")
        ctx.log(f"read back from {target.server}: {now.describe()}, as planned")

    def undo() -> None:
        entry = ctx.vault.get(key)
        if not entry:
            return
        target = cluster.dns_target()
        before, after = RRsets.from_json(entry["before"]), RRsets.from_json(entry["after"])
        try:
            now = dnsupdate.read(target, name)
            if now.same_records(before):
                ctx.log(f"{name} is as before the job: {before.describe()}")
                return
            ctx.log(f"put {name} back to {before.describe()} (only if it still holds {after.describe()})")
            dnsupdate.send(target, name, after, before)
        except DnsUpdateError as error:
            raise StepFailed(f"{name} not put back to {before.describe()}: {error}") from None
        ctx.log(f"{target.server} put it back")

    return Step(title, soft(action), soft(check), undo)


def verify_step(ctx: JobContext) -> Step:
    """The vendor's step 12, as a check that reports: the name compared with the members, and
    Central's port tried at every address of the answer. It never fails the job (the members
    themselves were checked by their own steps); what is wrong becomes a task on the job."""
    cluster = ctx.cluster
    name = cluster.dns_name

    def action() -> None:
        cluster.refresh_from_db()
        report = check_dns(cluster)
        verified = cluster.dns_verification
        ctx.log(f"{name} -> {', '.join(report['addresses']) or 'no address'}"
                + (f" ({report['error']})" if report.get("error") else ""))
        for row in report.get("members", []):
            ctx.log(f"  {row['name']} ({row['address']}): {'in the answer' if row['present'] else 'MISSING'}")
        for address in report.get("extra", []):
            ctx.log(f"  {address}: EXTRA, belongs to no member")
        for row in verified.get("addresses", []):
            whose = row["member"] or "no member"
            ctx.log(f"  {row['address']}:{verified['port']} ({whose}): "
                    + (f"accepts ({row['ms']} ms)" if row["accepts"] else f"does NOT accept: {row['error']}"))
        if not report.get("ok"):
            ctx.log(f"warning: {name} does not match the members yet (a caching resolver keeps an old answer "
                    "for up to its TTL)")
        if verified.get("ok"):
            ctx.log(f"{name} leads to the Active member {verified['active']} on port {verified['port']}")
        else:
            ctx.log(f"warning: {verified.get('problem')}")
            ctx.follow_up(f"Logging in through {name} would not reach the Active Central: {verified.get('problem')}")

    return Step(f"Verify through {name}: Central answers on port {cluster.central_port} at the name's addresses, "
                "the Active member's included (vendor step 12)", action)


def member_step(ctx: JobContext, member: Member, *, add: bool) -> Step:
    """Add a member's address to the name, or delete it (what another member shares stays).
    Never fails the member's procedure: a refused update becomes a task on the job."""
    cluster = ctx.cluster
    name = cluster.dns_name
    others = [(m.name, m.address) for m in cluster.members.exclude(pk=member.pk)]

    def plan_now() -> Plan:
        before = dnsupdate.read(cluster.dns_target(), name)
        return dnsupdate.plan_member(name, before, (member.name, member.address), others, cluster.host_resolver(),
                                     add=add)

    fix = f"Fix DNS on {cluster.name}'s page, or `python manage.py ha dns {cluster.name} --fix`"
    if add:
        return update_step(ctx, f"Add {member.name}'s address {member.address} to {name} (DNS update)", plan_now,
                           key=f"dns:{member.pk}", if_failed=f"Add {member.address} to {name}: {fix}")
    return update_step(ctx, f"Delete {member.name}'s address {member.address} from {name} (DNS update)", plan_now,
                       key=f"dns:{member.pk}", if_failed=f"Delete {member.address} from {name}: {fix}")


def fix_dns(ctx: JobContext) -> list[Step]:
    """Make the name hold exactly the members' addresses: the plan the administrator saw (params),
    sent as one update whose prerequisite is the records that plan was made from."""
    cluster = ctx.cluster
    plan = Plan.from_json(ctx.job.params["plan"])
    counts = [f"{len(changes)} {word}" for word, changes in (("to add", plan.additions), ("to delete", plan.deletions))
              if changes]
    return [
        update_step(ctx, f"Update {cluster.dns_name} on {cluster.dns_server}: " + ", ".join(counts)
                    + " (one signed update, only if the records are still as read)", lambda: plan, key="dns"),
        verify_step(ctx),
    ]


PROCEDURES = [
    Procedure(JobKind.FIX_DNS, fix_dns, "make the round-robin DNS name hold exactly the members' addresses (one "
              "signed RFC 2136 update, refused if the records changed since they were read), then verify Central "
              "answers through it", scope="none"),
]
