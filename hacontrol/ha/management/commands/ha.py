"""`manage.py ha ...`: every panel action from the command line, for automation.

Jobs started here run in this process (no worker needed), and are recorded, locked and audited
like the ones started from the web. Exit code 0 on success, 1 with the error otherwise.
"""

from __future__ import annotations

import getpass
import os
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from hacontrol.ha.jobs import ClusterBusy, create_job, fail_orphaned_jobs, run_job
from hacontrol.ha.models import AuditEvent, Cluster, Job, Member, StateChange, Upgrade
from hacontrol.remote import HostKeyUnknown, RemoteError, open_connection


def actor() -> str:
    return os.environ.get("HACONTROL_ACTOR") or f"cli:{getpass.getuser()}"


def validation_message(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
    return " ".join(error.messages)


class Command(BaseCommand):
    help = "Manage Micetro Central HA clusters (same jobs as the web console)"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="area", required=True)
        cluster = sub.add_parser("cluster", help="create, list or delete clusters")
        cluster_sub = cluster.add_subparsers(dest="action", required=True)
        create = cluster_sub.add_parser("create")
        create.add_argument("name")
        create.add_argument("--dns-name", default="")
        cluster_sub.add_parser("list")
        delete = cluster_sub.add_parser("delete")
        delete.add_argument("name")

        member = sub.add_parser("member", help="add or remove members (runs the procedure)")
        member_sub = member.add_subparsers(dest="action", required=True)
        add = member_sub.add_parser("add")
        add.add_argument("cluster")
        add.add_argument("name")
        add.add_argument("--address", required=True)
        add.add_argument("--port", type=int)
        add.add_argument("--platform", choices=["linux", "windows"], default="linux")
        add.add_argument("--user", default=None)
        add.add_argument("--key-file")
        add.add_argument("--password-env", help="name of the variable holding the password")
        add.add_argument("--host-key", default="")
        add.add_argument("--accept-host-key", action="store_true")
        add.add_argument("--priority", type=int)
        add.add_argument("--preferences-path", default="")
        add.add_argument("--winrm-auth", choices=["ntlm", "kerberos", "basic"], default="ntlm")
        add.add_argument("--winrm-https", action="store_true")
        add.add_argument("--reason", default="")
        remove = member_sub.add_parser("remove")
        remove.add_argument("cluster")
        remove.add_argument("name")
        remove.add_argument("--yes", action="store_true", help="confirm removing the primary")
        remove.add_argument("--no-stop", action="store_true", help="leave Central running")
        remove.add_argument("--reason", default="")

        switch = sub.add_parser("switchover", help="make a member the Active primary")
        switch.add_argument("cluster")
        switch.add_argument("--to", required=True)
        switch.add_argument("--reason", default="")

        status = sub.add_parser("status", help="members and their states")
        status.add_argument("cluster")
        status.add_argument("--json", action="store_true")
        check = sub.add_parser("check", help="probe every member now")
        check.add_argument("cluster")
        dns = sub.add_parser("dns", help="compare the round-robin DNS name with the members")
        dns.add_argument("cluster")
        tune = sub.add_parser("tune", help="apply heartbeat settings to every member (a job)")
        tune.add_argument("cluster")
        tune.add_argument("--interval", type=int, help="HeartbeatInterval, 5-15 s")
        tune.add_argument("--max-downtime", type=int, help="HeartbeatMaxAllowedDowntime, 20-120 s")
        tune.add_argument("--reason", default="")
        jobs = sub.add_parser("jobs", help="a cluster's jobs")
        jobs.add_argument("cluster")
        job = sub.add_parser("job", help="one job with its steps")
        job.add_argument("id", type=int)
        upgrade = sub.add_parser("upgrade", help="update Central on every member, HA-safe (the wizard's steps)")
        upgrade.add_argument("cluster")
        upgrade.add_argument("--installer", help="installer file to copy to the hosts")
        upgrade.add_argument("--installer-on-hosts", help="or: the installer's path already on every host")
        upgrade.add_argument("--version", dest="target_version", default="", help="target version (default: from the name)")
        upgrade.add_argument("--yes", action="store_true", help="proceed without asking")
        upgrade.add_argument("--force", action="store_true", help="override failed pre-flight checks (audited)")
        upgrade.add_argument("--resume", action="store_true", help="continue the open upgrade")
        upgrade.add_argument("--abort", action="store_true", help="abort the open upgrade")
        sub.add_parser("rotate-keys", help="re-encrypt stored credentials with the newest HACONTROL_SECRET_KEY")
        sub.add_parser("new-key", help="print a new key for HACONTROL_SECRET_KEY")
        sub.add_parser("worker", help="run the background worker and the state monitor")

    def handle(self, *args, area: str, **options):
        handler = getattr(self, f"do_{area.replace('-', '_')}")
        return handler(**options)

    # helpers ----------------------------------------------------------------------------

    def cluster(self, name: str) -> Cluster:
        try:
            return Cluster.objects.get(name=name)
        except Cluster.DoesNotExist:
            raise CommandError(f"no cluster named {name!r}") from None

    def member(self, cluster: Cluster, name: str) -> Member:
        try:
            return cluster.members.get(name=name)
        except Member.DoesNotExist:
            raise CommandError(f"{cluster.name} has no member named {name!r}") from None

    def run(self, kind: str, cluster: Cluster, member: Member | None, params: dict | None = None,
            reason: str = "") -> None:
        try:
            job = create_job(kind, cluster, actor(), member=member, params=params, reason=reason)
        except ClusterBusy as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"job #{job.pk}: {job.title}")
        status = run_job(job.pk, echo=self.stdout.write)
        if status != Job.SUCCEEDED:
            job.refresh_from_db()
            raise CommandError(job.error)

    # actions ----------------------------------------------------------------------------

    def do_cluster(self, action: str, **options):
        if action == "list":
            for cluster in Cluster.objects.with_member_counts():
                self.stdout.write(f"{cluster.name}\t{cluster.dns_name or '-'}\t{cluster.member_count} members")
            return
        if action == "delete":
            cluster = self.cluster(options["name"])
            if cluster.members.exists():
                raise CommandError(f"{cluster.name} still has members: remove them first")
            AuditEvent.record(actor(), "cluster delete", cluster=cluster)
            cluster.delete()
            self.stdout.write(f"deleted cluster {options['name']}")
            return
        cluster = Cluster(name=options["name"], dns_name=options["dns_name"])
        try:
            cluster.full_clean()
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
        cluster.save()
        AuditEvent.record(actor(), "cluster create", cluster=cluster, detail=f"DNS name {cluster.dns_name or '-'}")
        self.stdout.write(f"created cluster {cluster.name}")

    def do_member(self, action: str, **options):
        cluster = self.cluster(options["cluster"])
        if action == "remove":
            member = self.member(cluster, options["name"])
            if member.is_primary and cluster.members.count() > 1 and not options["yes"]:
                raise CommandError(f"{member.name} is the primary and other members fail over to it: add --yes to remove it")
            self.run("remove", cluster, member, {"stop": not options["no_stop"]}, options["reason"])
            return
        member = Member(
            cluster=cluster, name=options["name"], address=options["address"], port=options["port"],
            platform=options["platform"], username=options["user"] or ("root" if options["platform"] == "linux" else "Administrator"),
            host_key=options["host_key"], preferences_path=options["preferences_path"],
            priority=options["priority"] or cluster.next_priority(),
            winrm_auth=options["winrm_auth"], winrm_https=options["winrm_https"],
        )
        if options["key_file"]:
            member.private_key = Path(options["key_file"]).expanduser().read_text()
        if options["password_env"]:
            member.password = os.environ.get(options["password_env"], "")
            if not member.password:
                raise CommandError(f"${options['password_env']} is empty")
        primary = cluster.primary()
        if primary and member.priority <= primary.priority:
            raise CommandError(f"a failover's priority must be higher than the primary {primary.name}'s ({primary.priority})")
        try:
            member.full_clean()
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
        if options["accept_host_key"] and member.platform == "linux" and not member.host_key:
            member.host_key = self.fetch_host_key(member)
        with transaction.atomic():
            member.save()
        AuditEvent.record(actor(), "member add", cluster=cluster, member_name=member.name,
                          detail=f"{member.address} priority {member.priority}", reason=options["reason"])
        self.run("add", cluster, member, reason=options["reason"])

    def fetch_host_key(self, member: Member) -> str:
        """Connect once without a pinned key and pin what the host presents (audited)."""
        try:
            open_connection(member.connection_settings()).close()
        except HostKeyUnknown as error:
            self.stdout.write(f"accepting host key {error.fingerprint} of {member.address}")
            AuditEvent.record(actor(), "host key accepted", cluster=member.cluster, member_name=member.name,
                              detail=f"old none, new {error.fingerprint}")
            return error.presented_key
        except RemoteError as error:
            raise CommandError(str(error)) from None
        raise CommandError(f"{member.address} was reached without a host key check; refusing")

    def do_switchover(self, cluster: str, to: str, reason: str, **options):
        found = self.cluster(cluster)
        self.run("switchover", found, self.member(found, to), reason=reason)

    def do_status(self, cluster: str, json: bool, **options):
        found = self.cluster(cluster)
        panel = found.panel()
        rows = [
            {
                "name": m.name, "address": m.address, "priority": m.priority,
                "state": "maintenance" if m.in_maintenance else m.state, "reason": m.state_reason,
                "version": m.version, "last_checked": m.last_checked.isoformat() if m.last_checked else None,
                "last_seen": m.last_seen.isoformat() if m.last_seen else None, "last_error": m.last_error,
                "clock_skew": m.clock_skew,
            }
            for m in panel["members"]
        ]
        if json:
            import json as json_module

            self.stdout.write(json_module.dumps({"cluster": found.name, "members": rows}, indent=2))
            return
        for row in rows:
            reason = f" ({row['reason']})" if row["reason"] else ""
            self.stdout.write(f"{row['name']:<20} {row['priority']:>6}  {row['state'].upper():<12}{reason}  "
                              f"{row['address']}  {row['version'] or '-'}")

    def do_check(self, cluster: str, **options):
        from hacontrol.ha.probe import probe_cluster

        for member in probe_cluster(self.cluster(cluster)):
            reason = f" ({member.state_reason})" if member.state_reason else ""
            self.stdout.write(f"{member.name}: {member.get_state_display()}{reason}")

    def do_dns(self, cluster: str, **options):
        from hacontrol.ha.probe import check_dns

        found = self.cluster(cluster)
        if not found.dns_name:
            raise CommandError(f"{found.name} has no DNS name: set one with the web console's Edit cluster")
        report = check_dns(found)
        self.stdout.write(f"{report['name']} -> {', '.join(report['addresses']) or 'no address'}")
        if report["error"]:
            self.stdout.write(f"error: {report['error']}")
        for row in report["members"]:
            self.stdout.write(f"  {row['name']:<20} {row['address']:<40} {'present' if row['present'] else 'MISSING'}")
        for address in report["extra"]:
            self.stdout.write(f"  {'(no member)':<20} {address:<40} EXTRA")
        if not report["ok"]:
            raise CommandError(f"{report['name']} does not match the members")

    def do_tune(self, cluster: str, interval: int | None, max_downtime: int | None, reason: str, **options):
        found = self.cluster(cluster)
        found.heartbeat_interval, found.heartbeat_max_downtime = interval, max_downtime
        try:
            found.full_clean()
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
        found.save(update_fields=["heartbeat_interval", "heartbeat_max_downtime"])
        self.run("tune", found, None, reason=reason)

    def do_jobs(self, cluster: str, **options):
        for job in self.cluster(cluster).jobs.all()[:50]:
            self.stdout.write(f"#{job.pk}\t{job.status}\t{job.created:%Y-%m-%d %H:%M:%S}\t{job.started_by}\t{job.title}")

    def do_job(self, id: int, **options):
        try:
            job = Job.objects.get(pk=id)
        except Job.DoesNotExist:
            raise CommandError(f"no job #{id}") from None
        self.stdout.write(f"job #{job.pk}: {job.title} ({job.status}) by {job.started_by}")
        for step in job.steps.all():
            self.stdout.write(f"[{step.position}] {step.status:<9} {step.name}")
            for line in step.output.splitlines():
                self.stdout.write(f"      {line}")
            if step.error:
                self.stdout.write(f"      error: {step.error}")
        if job.error:
            self.stdout.write(f"error: {job.error}")

    def do_upgrade(self, cluster: str, installer: str | None, installer_on_hosts: str | None, target_version: str,
                   yes: bool, force: bool, resume: bool, abort: bool, **options):
        from django.core.files import File

        from hacontrol.ha.upgrade import (
            UpgradeError,
            abort_job,
            override_preflight,
            stage_job,
            start_upgrade,
            store_installer,
        )

        found = self.cluster(cluster)
        current = found.upgrades.filter(status__in=Upgrade.OPEN_STATUSES).first()
        try:
            if abort or resume:
                if current is None:
                    raise CommandError(f"{found.name} has no open upgrade")
                if abort:
                    self.run_upgrade_job(abort_job(current, actor()))
                    self.stdout.write(f"upgrade #{current.pk} aborted; the stopped secondaries run again")
                    return
            else:
                if current is not None:
                    raise CommandError(f"upgrade #{current.pk} of {found.name} is open: use --resume or --abort")
                if bool(installer) == bool(installer_on_hosts):
                    raise CommandError("give --installer FILE or --installer-on-hosts PATH")
                if not yes:
                    raise CommandError("this stops and upgrades Central on every member: add --yes to proceed")
                stored: dict[str, Any] = {}
                if installer:
                    with open(installer, "rb") as handle:
                        path, sha256, size = store_installer(File(handle, name=Path(installer).name))
                    stored = {"installer_file": str(path), "installer_sha256": sha256, "installer_size": size}
                    self.stdout.write(f"installer {Path(installer).name}: sha256 {sha256}, {size} bytes")
                name = Path(installer or installer_on_hosts or "").name
                current = start_upgrade(found, actor(), installer_name=name, target_version=target_version,
                                        installer_host_path=installer_on_hosts or "", **stored)
                self.stdout.write(f"upgrade #{current.pk} of {found.name} to {current.target_version}")
            while current.is_open:
                if current.status == Upgrade.FAILED and current.stage == 0 and force:
                    override_preflight(current, actor(), "overridden with --force on the command line")
                elif current.status == Upgrade.FAILED and not resume:
                    raise CommandError(f"upgrade #{current.pk} stopped: {current.error}\n"
                                       "fix the cause, then --resume (retries the step) or --abort")
                else:
                    resume = False
                    self.run_upgrade_job(stage_job(current, actor()))
                current.refresh_from_db()
        except (UpgradeError, ClusterBusy) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"upgrade #{current.pk} {current.status}: {current.versions_after}")

    def run_upgrade_job(self, job: Job) -> None:
        self.stdout.write(f"job #{job.pk}: {job.title}")
        run_job(job.pk, echo=self.stdout.write)

    def do_rotate_keys(self, **options):
        """Every secret is decrypted with whichever configured key works and saved again, which
        encrypts it with the first (newest) key; afterwards the old keys can be dropped."""
        count = 0
        with transaction.atomic():
            for member in Member.objects.select_for_update():
                member.save(update_fields=["password", "private_key", "key_passphrase"])
                count += 1
        AuditEvent.record(actor(), "credentials re-encrypted", detail=f"{count} member(s)")
        self.stdout.write(f"re-encrypted the credentials of {count} member(s) with the newest key")

    def do_new_key(self, **options):
        from cryptography.fernet import Fernet

        self.stdout.write(Fernet.generate_key().decode())

    def do_worker(self, **options):
        from django.core.management import call_command

        orphaned = fail_orphaned_jobs()
        if orphaned:
            self.stdout.write(f"marked {orphaned} job(s) of a dead worker failed")
        threading.Thread(target=monitor_forever, daemon=True, name="state-monitor").start()
        call_command("db_worker", "--no-reload", "--interval", "0.5")


def monitor_forever() -> None:
    """Probe every member of every cluster, in parallel, every HACONTROL_PROBE_INTERVAL s."""
    import logging

    from django.db import close_old_connections

    from hacontrol.ha.probe import check_dns, probe_clusters

    log = logging.getLogger("hacontrol.monitor")
    rounds = 0
    while True:
        started = time.monotonic()
        close_old_connections()
        try:
            if rounds % 240 == 0:
                StateChange.objects.prune()
            rounds += 1
            clusters = list(Cluster.objects.all())
            probe_clusters(clusters)
            for cluster in clusters:
                if cluster.dns_name:
                    check_dns(cluster)
        except Exception:  # noqa: BLE001 - the monitor outlives any one failed round
            log.exception("probing the clusters failed")
        time.sleep(max(0.0, settings.HACONTROL_PROBE_INTERVAL - (time.monotonic() - started)))
