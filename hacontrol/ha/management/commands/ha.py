"""`manage.py ha ...`: every panel action from the command line, for automation.

Jobs started here run in this process (no worker needed), recorded, locked and audited like the
ones started from the web, through the same actions. Ctrl-C (or SIGTERM) cancels a running job:
it stops after the current step and undoes what ran; a second Ctrl-C stops the undo and says what
is left. Exit code 0 on success, 1 with the error otherwise, 3 when a job is left waiting for a
confirmation (``ha job confirm ID``).
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import sys
from argparse import BooleanOptionalAction
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from hacontrol.ha import actions, display
from hacontrol.ha.errors import Refused
from hacontrol.ha.fields import derived_key, fernet
from hacontrol.ha.jobs import run_here
from hacontrol.ha.models import ApiToken, AuditEvent, Cluster, Credential, CredentialKind, Job, JobStatus, Member
from hacontrol.ha.probe import check_dns, probe_cluster, read_backup
from hacontrol.ha.runner import JobRunner
from hacontrol.ha.worker import run_worker
from hacontrol.lib.dnsupdate import parse_key_file
from hacontrol.remote import HostKeyUnknown, RemoteError, open_connection

WAITING_EXIT = 3


def actor() -> str:
    """Who runs the command: the OS user always; HACONTROL_ACTOR, when set, beside it."""
    user = f"cli:{getpass.getuser()}"
    named = os.environ.get("HACONTROL_ACTOR", "").strip()
    return f"{user} ({named})" if named else user


def as_json(value) -> str:
    return json.dumps(value, indent=2, default=str)


class Command(BaseCommand):
    help = "Manage Micetro Central HA clusters (the same actions as the web console and the API)"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="area", required=True)
        cluster = sub.add_parser("cluster", help="create, edit, list or delete clusters")
        cluster_sub = cluster.add_subparsers(dest="action", required=True)
        create = cluster_sub.add_parser("create")
        create.add_argument("name")
        create.add_argument("--dns-name", default="")
        create.add_argument("--dns-resolver", default="")
        self.dns_arguments(create)
        edit = cluster_sub.add_parser("edit")
        edit.add_argument("name")
        edit.add_argument("--dns-name")
        edit.add_argument("--dns-resolver")
        self.dns_arguments(edit)
        edit.add_argument("--notify-email")
        edit.add_argument("--notify-webhook")
        edit.add_argument("--reason", default="")
        listing = cluster_sub.add_parser("list")
        listing.add_argument("--json", action="store_true")
        delete = cluster_sub.add_parser("delete")
        delete.add_argument("name")
        delete.add_argument("--reason", default="")

        member = sub.add_parser("member", help="add, edit or remove members (runs the procedure)")
        member_sub = member.add_subparsers(dest="action", required=True)
        add = member_sub.add_parser("add")
        add.add_argument("cluster")
        add.add_argument("name")
        add.add_argument("--address", required=True)
        self.connection_arguments(add)
        add.add_argument("--accept-host-key", action="store_true",
                         help="pin the SSH host key (or WinRM HTTPS certificate) the host presents now (audited)")
        add.add_argument("--registered", action="store_true",
                         help="its name and priority are already in Micetro's High Availability configuration")
        self.member_dns_arguments(add, "add its address to")
        add.add_argument("--reason", default="")
        change = member_sub.add_parser("edit")
        change.add_argument("cluster")
        change.add_argument("name")
        change.add_argument("--address")
        self.connection_arguments(change)
        change.add_argument("--registered", action="store_true", help="the new priority is already set in Micetro")
        change.add_argument("--reason", default="")
        change.add_argument("--own-login", action="store_true",
                            help="stop using its saved credential: its own login (give it with --key-file ...)")
        show = member_sub.add_parser("show", help="a member as its page shows it: state, findings, overrides, "
                                                  "preferences (masked) against the Active member's, drift")
        show.add_argument("cluster")
        show.add_argument("name")
        show.add_argument("--json", action="store_true")
        backups = member_sub.add_parser("backups", help="the backups of preferences.cfg on the member's host")
        backups.add_argument("cluster")
        backups.add_argument("name")
        backups.add_argument("--show", metavar="BACKUP", help="read one now and print it, secrets masked")
        backups.add_argument("--json", action="store_true")
        restore = member_sub.add_parser("restore", help="put a backup back as preferences.cfg (a job)")
        restore.add_argument("cluster")
        restore.add_argument("name")
        restore.add_argument("backup")
        restore.add_argument("--reason", default="")
        remove = member_sub.add_parser("remove")
        remove.add_argument("cluster")
        remove.add_argument("name")
        remove.add_argument("--yes", action="store_true", help="confirm removing the Active member")
        remove.add_argument("--no-stop", action="store_true", help="leave Central running")
        remove.add_argument("--forget", action="store_true", help="the host is gone for good: do not touch it")
        remove.add_argument("--unregistered", action="store_true",
                            help="it is already removed from Micetro's High Availability configuration")
        self.member_dns_arguments(remove, "delete its address from")
        remove.add_argument("--reason", default="")
        accept = member_sub.add_parser("accept-key", help="pin the new host key (or WinRM TLS certificate) the "
                                                          "member's host presented")
        accept.add_argument("cluster")
        accept.add_argument("name")
        accept.add_argument("--fingerprint", required=True,
                            help="the presented key's (or certificate's) SHA256 fingerprint, as checked")
        accept.add_argument("--reason", default="")

        credential = sub.add_parser("credential", help="saved credentials that members pick")
        credential_sub = credential.add_subparsers(dest="action", required=True)
        for name in ("add", "edit"):
            parser = credential_sub.add_parser(name)
            parser.add_argument("name")
            parser.add_argument("--kind", choices=[kind.value for kind in CredentialKind],
                                default="ssh-key" if name == "add" else None)
            parser.add_argument("--user", dest="username")
            parser.add_argument("--key-file", help="the SSH private key")
            parser.add_argument("--passphrase-env", help="name of the variable holding the key's passphrase")
            parser.add_argument("--password-env", help="name of the variable holding the password")
            parser.add_argument("--sudo", dest="use_sudo", action=BooleanOptionalAction, default=None)
            parser.add_argument("--description")
            parser.add_argument("--reason", default="")
        listing = credential_sub.add_parser("list")
        listing.add_argument("--json", action="store_true")
        delete = credential_sub.add_parser("remove")
        delete.add_argument("name")
        delete.add_argument("--reason", default="")

        switch = sub.add_parser("switchover", help="make a member the Active one (Set Active)")
        switch.add_argument("cluster")
        switch.add_argument("--to", required=True)
        switch.add_argument("--reason", default="")

        status = sub.add_parser("status", help="members and their states")
        status.add_argument("cluster")
        status.add_argument("--json", action="store_true")
        check = sub.add_parser("check", help="look at every member now; exit 1 when one does not serve")
        check.add_argument("cluster")
        check.add_argument("--json", action="store_true")
        dns = sub.add_parser("dns", help="compare the round-robin DNS name with the members and verify Central "
                                          "answers through it; --fix updates the name (a job)")
        dns.add_argument("cluster")
        dns.add_argument("--json", action="store_true")
        dns.add_argument("--fix", action="store_true", help="show the planned DNS update, then apply it as a job")
        dns.add_argument("--yes", action="store_true", help="apply without asking, deletions included")
        dns.add_argument("--reason", default="")
        tune = sub.add_parser("tune", help="apply heartbeat settings to every member (a job)")
        tune.add_argument("cluster")
        tune.add_argument("--interval", type=int, help="HeartbeatInterval, 5-15 s")
        tune.add_argument("--max-downtime", type=int, help="HeartbeatMaxAllowedDowntime, 20-120 s")
        tune.add_argument("--reason", default="")
        jobs = sub.add_parser("jobs", help="a cluster's jobs")
        jobs.add_argument("cluster")
        jobs.add_argument("--json", action="store_true")
        job = sub.add_parser("job", help="one job with its steps; confirm or cancel it")
        job.add_argument("first", help="the job's number, or 'confirm' / 'cancel'")
        job.add_argument("id", nargs="?", type=int)
        job.add_argument("--reason", default="")
        job.add_argument("--json", action="store_true")
        audit = sub.add_parser("audit", help="the audit log, newest first")
        audit.add_argument("--cluster")
        audit.add_argument("--limit", type=int, default=50)
        audit.add_argument("--json", action="store_true")
        upgrade = sub.add_parser("upgrade", help="update Central on every member, HA-safe (the wizard's steps)")
        upgrade.add_argument("cluster")
        upgrade.add_argument("--installer", help="installer file to copy to the hosts")
        upgrade.add_argument("--installer-on-hosts", help="or: the installer's path already on every host")
        upgrade.add_argument("--version", dest="target_version", default="", help="target version (default: from the installer)")
        upgrade.add_argument("--yes", action="store_true", help="proceed without asking")
        upgrade.add_argument("--force", action="store_true", help="override failed pre-flight checks (audited)")
        upgrade.add_argument("--resume", action="store_true", help="continue (retry) the open upgrade")
        upgrade.add_argument("--abort", action="store_true", help="abort the open upgrade")
        upgrade.add_argument("--reason", default="", help="why (kept in the audit log): an abort's, or --force's")
        token = sub.add_parser("token", help="API tokens: create (shown once), list, revoke")
        token_sub = token.add_subparsers(dest="action", required=True)
        token_create = token_sub.add_parser("create")
        token_create.add_argument("user")
        token_create.add_argument("name", help="what it is for, e.g. prometheus")
        token_create.add_argument("--days", type=int, help="expires after this many days (default: never)")
        token_list = token_sub.add_parser("list")
        token_list.add_argument("--user")
        token_list.add_argument("--json", action="store_true")
        token_revoke = token_sub.add_parser("revoke")
        token_revoke.add_argument("id", type=int)
        rotate = sub.add_parser("rotate-keys", help="re-encrypt stored credentials with the newest HACONTROL_SECRET_KEY")
        rotate.add_argument("--from-secret-key", action="store_true",
                            help="also read what was encrypted with the key derived from SECRET_KEY (before "
                                 "HACONTROL_SECRET_KEY was set)")
        sub.add_parser("new-key", help="print a new key for HACONTROL_SECRET_KEY")
        sub.add_parser("worker", help="run the background worker and the state monitor (same as `manage.py worker`)")

    @staticmethod
    def dns_arguments(parser) -> None:
        parser.add_argument("--central-port", type=int, help="Central's TCP port, tried through the name (1231)")
        parser.add_argument("--dns-zone", help="the zone holding the name (DNS updates)")
        parser.add_argument("--dns-server", help="the zone's primary server for updates: IP[:PORT] or [IPv6]:PORT")
        parser.add_argument("--tsig-key-file", help="a BIND key statement, as `tsig-keygen NAME` prints it")
        parser.add_argument("--tsig-key-name")
        parser.add_argument("--tsig-algorithm", help="hmac-sha256 (default), hmac-sha512, ... (no GSS-TSIG)")
        parser.add_argument("--tsig-secret-env", help="name of the variable holding the TSIG secret (base64)")
        parser.add_argument("--dns-members", choices=["ask", "always", "never"],
                            help="whether adding or removing a member updates the name too")
        parser.add_argument("--no-dns-updates", action="store_true", help="clear every DNS update setting")

    @staticmethod
    def member_dns_arguments(parser, doing: str) -> None:
        parser.add_argument("--dns", dest="update_dns", action="store_true", default=None,
                            help=f"{doing} the round-robin name (when the cluster's policy is 'ask')")
        parser.add_argument("--no-dns", dest="update_dns", action="store_false", help="leave the name as it is")

    @staticmethod
    def connection_arguments(parser) -> None:
        parser.add_argument("--port", type=int)
        parser.add_argument("--platform", choices=["linux", "windows"])
        parser.add_argument("--user", dest="username")
        parser.add_argument("--key-file")
        parser.add_argument("--password-env", help="name of the variable holding the password")
        parser.add_argument("--host-key")
        parser.add_argument("--priority", type=int)
        parser.add_argument("--preferences-path")
        parser.add_argument("--sudo", dest="use_sudo", action="store_true", default=None)
        parser.add_argument("--winrm-auth", choices=["ntlm", "kerberos", "basic"])
        parser.add_argument("--winrm-https", action="store_true", default=None)
        parser.add_argument("--winrm-certificate", help="the HTTPS listener's certificate SHA256 fingerprint to pin")
        parser.add_argument("--allow-http-basic", dest="winrm_allow_http_basic", action="store_true", default=None)
        parser.add_argument("--commands", help="JSON object of command overrides")
        parser.add_argument("--credential", help="a saved credential's name (instead of --user, --key-file ...)")

    def handle(self, *args, area: str, **options):
        handler = getattr(self, f"do_{area.replace('-', '_')}")
        try:
            return handler(**options)
        except Refused as refusal:
            raise CommandError(f"refused ({refusal.check}): {refusal.message}") from None

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

    def run(self, job: Job) -> None:
        """Run a job here until it ends (or waits), with Ctrl-C as cancel; exit as it ended."""
        self.stdout.write(f"job #{job.pk}: {job.title}")
        runner = JobRunner(job.pk, echo=self.stdout.write, confirm=self.ask)

        def interrupt(signum, frame):  # noqa: ARG001
            if runner.interrupted.is_set():
                self.stderr.write("second interrupt: stopping the undo; the job will say what is left undone")
                runner.abandon_undo.set()
                return
            self.stderr.write("interrupted: cancelling after the current step, then undoing what ran "
                              "(Ctrl-C again to stop the undo)")
            runner.request_cancel(actor(), "interrupted at the command line")

        previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            status = run_here(job, runner=runner)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        job.refresh_from_db()
        if job.follow_up:
            self.stdout.write("still to do by hand:\n" + job.follow_up)
        if status == JobStatus.WAITING:
            raise CommandError(f"job #{job.pk} waits for you; when done, run `python manage.py ha job confirm {job.pk}` "
                               f"(or cancel it with `python manage.py ha job cancel {job.pk}`)", returncode=WAITING_EXIT)
        if status != JobStatus.SUCCEEDED:
            raise CommandError(job.error or status)

    def ask(self, job: Job, instructions: dict) -> bool | None:
        """The Micetro step a job waits for: done (True), cancel (False), or leave it waiting (None)."""
        self.stdout.write(f"\n  In Micetro, do this now: {instructions['text']}\n  Where: {instructions['where']}")
        self.stdout.write("  Done? [y]es, [n]o = cancel the job, [w]ait = leave it waiting: ", ending="")
        self.stdout.flush()
        answer = (sys.stdin.readline() or "").strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        return None

    # clusters ---------------------------------------------------------------------------

    def do_cluster(self, action: str, **options):
        if action == "list":
            clusters = list(Cluster.objects.with_member_counts())
            if options["json"]:
                self.stdout.write(as_json([{"name": c.name, "dns_name": c.dns_name, "members": c.member_count,
                                            "serving": c.serving_count} for c in clusters]))
                return
            for cluster in clusters:
                self.stdout.write(f"{cluster.name}\t{cluster.dns_name or '-'}\t{cluster.member_count} members")
            return
        if action == "create":
            cluster = actions.create_cluster(actor(), name=options["name"], dns_name=options["dns_name"],
                                             dns_resolver=options["dns_resolver"], **self.dns_settings(options))
            self.stdout.write(f"created cluster {cluster.name}")
            return
        cluster = self.cluster(options["name"])
        if action == "delete":
            actions.delete_cluster(actor(), cluster, reason=options["reason"])
            self.stdout.write(f"deleted cluster {options['name']}")
            return
        changes = {k: v for k in ("dns_name", "dns_resolver", "notify_email", "notify_webhook")
                   if (v := options.get(k)) is not None}
        actions.edit_cluster(actor(), cluster, reason=options["reason"], **changes, **self.dns_settings(options))
        self.stdout.write(f"saved cluster {cluster.name}")

    @staticmethod
    def dns_settings(options: dict) -> dict:
        """The DNS update settings given; the secret only from a key file or a variable, never
        from the command line (where `ps` shows it)."""
        if options.get("no_dns_updates"):
            return {"dns_zone": "", "dns_server": "", "dns_key_name": "", "dns_member_policy": "ask"}
        values = {"dns_zone": options.get("dns_zone"), "dns_server": options.get("dns_server"),
                  "dns_key_name": options.get("tsig_key_name"), "dns_key_algorithm": options.get("tsig_algorithm"),
                  "dns_member_policy": options.get("dns_members"), "central_port": options.get("central_port")}
        if options.get("tsig_key_file"):
            try:
                name, algorithm, secret = parse_key_file(Path(options["tsig_key_file"]).expanduser().read_text())
            except (OSError, ValueError) as error:
                raise CommandError(f"--tsig-key-file: {error}") from None
            values.update(dns_key_name=values["dns_key_name"] or name, dns_key_secret=secret,
                          dns_key_algorithm=values["dns_key_algorithm"] or algorithm)
        if options.get("tsig_secret_env"):
            values["dns_key_secret"] = os.environ.get(options["tsig_secret_env"], "")
            if not values["dns_key_secret"]:
                raise CommandError(f"${options['tsig_secret_env']} is empty")
        return {k: v for k, v in values.items() if v is not None}

    # members ----------------------------------------------------------------------------

    def member_values(self, options: dict) -> dict:
        values = {k: options.get(k) for k in ("address", "port", "platform", "username", "host_key", "priority",
                                               "preferences_path", "use_sudo", "winrm_auth", "winrm_https",
                                               "winrm_certificate", "winrm_allow_http_basic")}
        values = {k: v for k, v in values.items() if v is not None}
        if options.get("key_file"):
            values["private_key"] = Path(options["key_file"]).expanduser().read_text()
        if options.get("password_env"):
            values["password"] = os.environ.get(options["password_env"], "")
            if not values["password"]:
                raise CommandError(f"${options['password_env']} is empty")
        if options.get("credential"):
            values["credential"] = self.credential(options["credential"])
        elif options.get("own_login"):
            values["credential"] = None
        if options.get("commands") is not None:
            try:
                values["commands"] = json.loads(options["commands"]) if options["commands"] else {}
            except ValueError:
                raise CommandError("--commands takes a JSON object, e.g. '{\"status\": \"systemctl is-active mmcentral\"}'") from None
        return values

    def do_member(self, action: str, **options):
        cluster = self.cluster(options["cluster"])
        if action in ("show", "backups", "restore"):
            return getattr(self, f"member_{action}")(self.member(cluster, options["name"]), **options)
        if action == "remove":
            member = self.member(cluster, options["name"])
            if options["forget"]:
                job = actions.forget_member(actor(), member, confirm=True, unregistered=options["unregistered"],
                                            update_dns=options["update_dns"], reason=options["reason"])
            else:
                job = actions.remove_member(actor(), member, stop=not options["no_stop"], confirm_active=options["yes"],
                                            unregistered=options["unregistered"], update_dns=options["update_dns"],
                                            reason=options["reason"])
            self.say_dns(cluster, job)
            self.run(job)
            return
        if action == "accept-key":
            old, new = actions.accept_host_key(actor(), self.member(cluster, options["name"]),
                                               seen_fingerprint=options["fingerprint"], reason=options["reason"])
            self.stdout.write(f"pinned {new} (was {old or 'none'})")
            return
        values = self.member_values(options)
        if action == "edit":
            member = self.member(cluster, options["name"])
            priority_job = actions.edit_member(actor(), member, reason=options["reason"],
                                               registered=options["registered"], **values)
            if priority_job is None:
                self.stdout.write(f"saved {member.name}")
            else:
                self.run(priority_job)
            return
        values.setdefault("platform", values["credential"].platform if values.get("credential") else "linux")
        if options["accept_host_key"]:
            pins = "winrm_certificate" if values["platform"] == "windows" else "host_key"
            if not values.get(pins) and (pins == "host_key" or values.get("winrm_https")):
                values[pins] = self.fetch_host_key(cluster, options["name"], values)
        job = actions.add_member(actor(), cluster, name=options["name"], registered=options["registered"],
                                 update_dns=options["update_dns"], reason=options["reason"], **values)
        self.say_dns(cluster, job)
        self.run(job)

    def say_dns(self, cluster: Cluster, job: Job) -> None:
        """Under the 'ask' policy without --dns, say the name is left alone and how to change it."""
        if cluster.dns_updates_on and not job.params.get("dns") and cluster.dns_member_policy == "ask":
            self.stdout.write(f"{cluster.dns_name} is left as it is (add --dns to update it, or run "
                              f"`python manage.py ha dns {cluster.name} --fix` later)")

    def member_show(self, member: Member, json: bool, **options) -> None:
        page = display.member_page(member)
        data = display.member_facts(member, page)
        if json:
            self.stdout.write(as_json(data))
            return
        self.stdout.write(f"{member.name} ({member.cluster.name}): {data['state'].upper()}"
                          + (f" ({member.state_reason})" if member.state_reason else ""))
        shown = {**data, "overrides": {o["name"]: o["command"] for o in data["overrides"]},
                 "backups": [b["name"] for b in data["backups"]]}
        for key in ("priority", "address", "login", "version", "clock_skew", "heartbeat", "name_on_host", "format",
                    "database", "windows_service", "overrides", "backups"):
            if shown[key] not in (None, "", {}, []):
                self.stdout.write(f"  {key.replace('_', ' ')}: {shown[key]}")
        for difference in page["drift"]:
            self.stdout.write(f"  drift: {difference.describe()}")
        for job in data["jobs"]:
            self.stdout.write(f"  job #{job['id']} {job['title']} ({job['status']})")
        if data["diff"] is not None:
            self.stdout.write(f"preferences.cfg (masked) against {data['reference'] or '-'}'s, "
                              "ClusterMemberName aside:")
            for line in data["diff"]:
                self.stdout.write(f"  {line['kind']} {line['text']}")
        elif member.preferences_masked:
            self.stdout.write("preferences.cfg (masked):")
            self.stdout.write(member.preferences_masked.rstrip())

    def member_backups(self, member: Member, show: str | None, json: bool, **options) -> None:
        if show:
            try:
                self.stdout.write(read_backup(member, show).rstrip())
            except RemoteError as error:
                raise CommandError(str(error)) from None
            return
        backups = member.findings.get("backups", [])
        if json:
            self.stdout.write(as_json(backups))
            return
        if not backups:
            self.stdout.write(f"no backup found on {member.name} at the last look")
        for backup in backups:
            when = datetime.fromtimestamp(backup["modified"], UTC)
            self.stdout.write(f"{backup['name']}\t{when:%Y-%m-%d %H:%M:%S} UTC\t{backup['size']} bytes")

    def member_restore(self, member: Member, backup: str, reason: str, **options) -> None:
        self.run(actions.restore_backup(actor(), member, backup=backup, reason=reason))

    def fetch_host_key(self, cluster: Cluster, name: str, values: dict) -> str:
        """Connect once without a pinned key (or certificate) and pin what the host presents (audited)."""
        probe = Member(cluster=cluster, name=name, **{k: v for k, v in values.items() if k != "priority"})
        try:
            open_connection(probe.connection_settings()).close()
        except HostKeyUnknown as error:
            self.stdout.write(f"accepting {probe.identity_kind} {error.fingerprint} of {probe.address}")
            AuditEvent.record(actor(), "host key accepted", cluster=cluster, member_name=name,
                              detail=f"{probe.identity_kind}: old none, new {error.fingerprint}")
            return error.presented_key
        except RemoteError as error:
            raise CommandError(str(error)) from None
        raise CommandError(f"{probe.address} was reached without a host key check; refusing")

    # credentials --------------------------------------------------------------------------

    def credential(self, name: str) -> Credential:
        try:
            return Credential.objects.get(name=name)
        except Credential.DoesNotExist:
            raise CommandError(f"no credential named {name!r} (see `ha credential list`)") from None

    def credential_values(self, options: dict) -> dict:
        values = {k: options.get(k) for k in ("kind", "username", "use_sudo", "description")}
        values = {k: v for k, v in values.items() if v is not None}
        if options.get("key_file"):
            values["private_key"] = Path(options["key_file"]).expanduser().read_text()
        for option, field in (("password_env", "password"), ("passphrase_env", "key_passphrase")):
            if options.get(option):
                values[field] = os.environ.get(options[option], "")
                if not values[field]:
                    raise CommandError(f"${options[option]} is empty")
        return values

    def do_credential(self, action: str, **options):
        if action == "list":
            credentials = list(Credential.objects.with_use_counts())
            used = {c.pk: [f"{cluster}/{member}" for cluster, member in
                           c.members.order_by("cluster__name", "priority").values_list("cluster__name", "name")]
                    for c in credentials}
            if options["json"]:
                self.stdout.write(as_json([{"name": c.name, "kind": c.kind, "username": c.username,
                                            "sudo": c.use_sudo, "used_by": used[c.pk]} for c in credentials]))
                return
            for c in credentials:
                self.stdout.write(f"{c.name}\t{c.kind}\t{c.username}{' (sudo)' if c.use_sudo else ''}\t"
                                  f"used by {', '.join(used[c.pk]) or 'no member'}")
            return
        if action == "add":
            created = actions.create_credential(actor(), name=options["name"], **self.credential_values(options))
            self.stdout.write(f"saved credential {created.name} ({created.get_kind_display()}, user {created.username})")
            return
        found = self.credential(options["name"])
        if action == "remove":
            actions.delete_credential(actor(), found, reason=options["reason"])
            self.stdout.write(f"deleted credential {found.name}")
            return
        saved = actions.edit_credential(actor(), found, reason=options["reason"], **self.credential_values(options))
        users = saved.members.count()
        self.stdout.write(f"saved credential {saved.name}; {users} member{'s' if users != 1 else ''} use it from "
                          "their next connection on")

    def do_switchover(self, cluster: str, to: str, reason: str, **options):
        found = self.cluster(cluster)
        self.run(actions.switchover(actor(), self.member(found, to), reason=reason))

    # looking ------------------------------------------------------------------------------

    def member_rows(self, cluster: Cluster) -> list[dict]:
        running = cluster.running_job()
        busy = set(running.affected) if running else set()
        return [
            {
                "name": m.name, "address": m.address, "priority": m.priority,
                "state": "maintenance" if m.pk in busy else m.state, "reason": m.state_reason,
                "registered": m.registered, "version": m.version,
                "last_checked": m.last_checked.isoformat() if m.last_checked else None,
                "last_seen": m.last_seen.isoformat() if m.last_seen else None, "last_error": m.last_error,
                "clock_skew": m.clock_skew,
            }
            for m in cluster.members.all()
        ]

    def print_members(self, cluster: Cluster, as_json_output: bool) -> list[dict]:
        rows = self.member_rows(cluster)
        if as_json_output:
            self.stdout.write(as_json({"cluster": cluster.name, "active": cluster.active_member.name
                                       if cluster.active_member else None, "note": cluster.ha_note, "members": rows}))
            return rows
        for row in rows:
            reason = f" ({row['reason']})" if row["reason"] else ""
            self.stdout.write(f"{row['name']:<20} {row['priority']:>6}  {row['state'].upper():<12}{reason}  "
                              f"{row['address']}  {row['version'] or '-'}")
        if cluster.ha_note:
            self.stdout.write(cluster.ha_note)
        return rows

    def do_status(self, cluster: str, json: bool, **options):
        self.print_members(self.cluster(cluster), json)

    def do_check(self, cluster: str, json: bool, **options):
        """Look now; exit 1 when a member does not serve, which one is Active is not known, or the
        members' database settings drifted apart (other drift is printed as a warning)."""
        found = self.cluster(cluster)
        probe_cluster(found)
        found.refresh_from_db()
        drift = display.drift(found, list(found.members.all()))
        if json:
            rows = self.member_rows(found)
            self.stdout.write(as_json({"cluster": found.name, "active": found.active_member.name
                                       if found.active_member else None, "note": found.ha_note, "members": rows,
                                       "drift": [d.as_dict() for d in drift]}))
        else:
            rows = self.print_members(found, False)
            for difference in drift:
                self.stdout.write(f"drift: {difference.describe()}")
        down = [row["name"] for row in rows if row["state"] in ("offline", "unknown")]
        problems = []
        if down:
            problems.append("not every member serves: " + ", ".join(down))
        elif rows and found.active_member_id is None:
            problems.append(f"which member is Active is not known: {found.ha_note}")
        database = [d.setting.label for d in drift if d.database]
        if database:
            problems.append("the members' database settings differ (" + ", ".join(database) + "): they must share "
                            "one Central database")
        if problems:
            raise CommandError("; ".join(problems))

    def do_dns(self, cluster: str, json: bool, fix: bool, yes: bool, reason: str, **options):
        found = self.cluster(cluster)
        if not found.dns_name:
            raise CommandError(f"{found.name} has no DNS name: set one with `ha cluster edit {found.name} --dns-name NAME`")
        if fix:
            self.fix_dns(found, yes, reason)
            found.refresh_from_db()
        report = check_dns(found)
        verified = found.dns_verification
        if json:
            self.stdout.write(as_json({**report, "verification": verified}))
        else:
            self.stdout.write(f"{report['name']} -> {', '.join(report['addresses']) or 'no address'}")
            if report["error"]:
                self.stdout.write(f"error: {report['error']}")
            for row in report["members"]:
                self.stdout.write(f"  {row['name']:<20} {row['address']:<40} {'present' if row['present'] else 'MISSING'}")
            for address in report["extra"]:
                self.stdout.write(f"  {'(no member)':<20} {address:<40} EXTRA")
            self.stdout.write(f"through the name, TCP {verified['port']}:")
            for row in verified["addresses"]:
                whose = (row["member"] or "(no member)") + (" (Active)" if row["member"] == verified["active"] else "")
                self.stdout.write(f"  {row['address']:<40} {whose:<29} "
                                  + ("accepts" if row["accepts"] else f"DOES NOT ACCEPT: {row['error']}"))
            self.stdout.write("  verified: the Active member answers through the name" if verified["ok"]
                              else f"  NOT VERIFIED: {verified['problem']}")
        if not report["ok"]:
            raise CommandError(f"{report['name']} does not match the members")
        if not verified["ok"]:
            raise CommandError(f"{report['name']} does not lead to the Active Central: {verified['problem']}")

    def fix_dns(self, cluster: Cluster, yes: bool, reason: str) -> None:
        """Show the plan, ask (deletions included) unless --yes, then run the job here."""
        plan = actions.plan_dns(cluster, actor=actor(), reason=reason)
        self.stdout.write(f"{cluster.dns_name} on {cluster.dns_server} now: {plan.before.describe()}")
        for note in plan.notes:
            self.stdout.write(f"  {note}")
        if not plan.changes:
            self.stdout.write("nothing to change")
            return
        for change in plan.changes:
            self.stdout.write(f"  {change.action:<7} {change.rdtype:<5} {change.address:<40} {change.why}")
        self.stdout.write(f"afterwards: {plan.after().describe()}")
        if not yes:
            deletions = f", deleting {len(plan.deletions)} record(s) that belong to no member" if plan.deletions else ""
            self.stdout.write(f"Apply this as one signed update{deletions}? [y/N] ", ending="")
            self.stdout.flush()
            if (sys.stdin.readline() or "").strip().lower() not in ("y", "yes"):
                raise CommandError("nothing changed")
        self.run(actions.fix_dns(actor(), cluster, seen=plan.digest(), confirm_deletions=True, reason=reason))

    def do_tune(self, cluster: str, interval: int | None, max_downtime: int | None, reason: str, **options):
        self.run(actions.tune(actor(), self.cluster(cluster), interval=interval, max_downtime=max_downtime, reason=reason))

    # jobs ---------------------------------------------------------------------------------

    @staticmethod
    def job_row(job: Job) -> dict:
        return {"id": job.pk, "title": job.title, "kind": job.kind, "status": job.status, "member": job.member_name,
                "started_by": job.started_by, "created": job.created, "finished": job.finished, "error": job.error,
                "follow_up": job.follow_up}

    def do_jobs(self, cluster: str, json: bool, **options):
        jobs = list(self.cluster(cluster).jobs.all()[:50])
        if json:
            self.stdout.write(as_json([self.job_row(job) for job in jobs]))
            return
        for job in jobs:
            self.stdout.write(f"#{job.pk}\t{job.status}\t{job.created:%Y-%m-%d %H:%M:%S}\t{job.started_by}\t{job.title}")

    def do_job(self, first: str, id: int | None, reason: str, json: bool, **options):
        if first in ("confirm", "cancel"):
            if id is None:
                raise CommandError(f"give the job's number: ha job {first} ID")
            job = self.find_job(id)
            if first == "confirm":
                self.run(actions.confirm_job(actor(), job))
                return
            job = actions.cancel_job(actor(), job, reason=reason)
            if job.status == JobStatus.QUEUED:
                self.stdout.write(f"job #{job.pk}: undoing what it did")
                run_here(job, echo=self.stdout.write)
            elif job.status == JobStatus.RUNNING:
                self.stdout.write(f"job #{job.pk} stops after its current step and undoes what ran")
            job.refresh_from_db()
            self.stdout.write(f"job #{job.pk} {job.status}" + (f": {job.error}" if job.error else ""))
            return
        if not first.isdigit():
            raise CommandError("give a job number, or 'confirm ID' / 'cancel ID'")
        job = self.find_job(int(first))
        steps = list(job.steps.all())
        if json:
            self.stdout.write(as_json({**self.job_row(job), "steps": [
                {"position": s.position, "name": s.name, "status": s.status, "output": s.output, "error": s.error,
                 "instructions": s.instructions} for s in steps]}))
            return
        self.stdout.write(f"job #{job.pk}: {job.title} ({job.status}) by {job.started_by}")
        for step in steps:
            self.stdout.write(f"[{step.position}] {step.status:<9} {step.name}")
            for line in step.output.splitlines():
                self.stdout.write(f"      {line}")
            if step.error:
                self.stdout.write(f"      error: {step.error}")
        if job.error:
            self.stdout.write(f"error: {job.error}")
        if job.follow_up:
            self.stdout.write("still to do by hand:\n" + job.follow_up)

    def find_job(self, job_id: int) -> Job:
        try:
            return Job.objects.select_related("cluster").get(pk=job_id)
        except Job.DoesNotExist:
            raise CommandError(f"no job #{job_id}") from None

    def do_audit(self, cluster: str | None, limit: int, json: bool, **options):
        events = AuditEvent.objects.all()
        if cluster:
            events = events.filter(cluster_name=cluster)
        rows = [{"when": e.when, "actor": e.actor, "action": e.action, "cluster": e.cluster_name,
                 "member": e.member_name, "outcome": e.outcome, "detail": e.detail, "reason": e.reason}
                for e in events[:limit]]
        if json:
            self.stdout.write(as_json(rows))
            return
        for row in rows:
            self.stdout.write(f"{row['when']:%Y-%m-%d %H:%M:%S}  {row['actor']:<20} {row['action']:<22} {row['outcome']:<9} "
                              f"{row['cluster']} {row['member']} {row['detail']}")

    # upgrades -------------------------------------------------------------------------------

    def do_upgrade(self, cluster: str, installer: str | None, installer_on_hosts: str | None, target_version: str,
                   yes: bool, force: bool, resume: bool, abort: bool, reason: str = "", **options):
        found = self.cluster(cluster)
        current = found.open_upgrade()
        if abort or resume:
            if current is None:
                raise CommandError(f"{found.name} has no open upgrade")
            if abort:
                self.run(actions.abort_upgrade(actor(), current, reason=reason))
                self.stdout.write(f"upgrade #{current.pk} aborted; the cluster runs again on the old version")
                return
        else:
            if current is not None:
                raise CommandError(f"upgrade #{current.pk} of {found.name} is open: use --resume or --abort")
            if not yes:
                raise CommandError("this stops and upgrades Central on every member: add --yes to proceed")
            stored = None
            if installer:
                with open(installer, "rb") as handle:
                    stored = actions.store_installer(iter(lambda: handle.read(1024 * 1024), b""), Path(installer).name)
                self.stdout.write(f"installer {stored['installer_name']}: sha256 {stored['installer_sha256']}, "
                                  f"{stored['installer_size']} bytes")
            current = actions.start_upgrade(actor(), found, installer=stored, installer_host_path=installer_on_hosts or "",
                                            target_version=target_version)
            self.stdout.write(f"upgrade #{current.pk} of {found.name} to {current.target_version}")
        while current.is_open:
            if current.status == "failed" and current.stage == 0 and force:
                actions.override_preflight(actor(), current, reason=reason or "overridden with --force on the command line")
            elif current.status == "failed" and not resume:
                raise CommandError(f"upgrade #{current.pk} stopped: {current.error}\n"
                                   "fix the cause, then --resume (retries the step) or --abort")
            else:
                resume = False
                try:
                    self.run(actions.run_upgrade_stage(actor(), current))
                except CommandError as error:
                    if error.returncode == WAITING_EXIT:
                        raise
            current.refresh_from_db()
        self.stdout.write(f"upgrade #{current.pk} {current.status}: {current.versions_after}")

    # API tokens ---------------------------------------------------------------------------------

    def do_token(self, action: str, **options):
        if action == "create":
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user named {options['user']!r}")
            if options["days"] is not None and options["days"] < 1:
                raise CommandError("--days is at least 1")
            expires = timezone.now() + timedelta(days=options["days"]) if options["days"] else None
            row, token = ApiToken.issue(user, options["name"], expires=expires, actor=actor())
            self.stderr.write(f"token #{row.pk} {row.name} of {user.get_username()}, expires {expires or 'never'}; "
                              "it is shown once:")
            self.stdout.write(token)
            return
        if action == "revoke":
            found = ApiToken.objects.select_related("user").filter(pk=options["id"]).first()
            if found is None:
                raise CommandError(f"no token #{options['id']}")
            found.revoke(actor())
            self.stdout.write(f"revoked token #{options['id']} {found}")
            return
        tokens = ApiToken.objects.select_related("user")
        if options["user"]:
            tokens = tokens.filter(user__username=options["user"])
        rows = [{"id": t.pk, "user": t.user.get_username(), "name": t.name, "hint": t.hint, "created": t.created,
                 "expires": t.expires, "expired": t.expired, "last_used": t.last_used} for t in tokens]
        if options["json"]:
            self.stdout.write(as_json(rows))
            return
        for listed in rows:
            self.stdout.write(f"#{listed['id']}\t{listed['user']}\t{listed['name']}\t{listed['hint']}…\t"
                              f"expires {listed['expires'] or 'never'}{' (expired)' if listed['expired'] else ''}\t"
                              f"last used {listed['last_used'] or 'never'}")

    # keys and the worker ------------------------------------------------------------------------

    def do_rotate_keys(self, from_secret_key: bool = False, **options):
        """Every secret is decrypted with whichever configured key works and saved again, which
        encrypts it with the first (newest) key; afterwards the old keys can be dropped. With
        ``from_secret_key`` the key derived from SECRET_KEY decrypts too, for this run only."""
        if not settings.HACONTROL_SECRET_KEYS:
            raise CommandError("set HACONTROL_SECRET_KEY first (`ha new-key` prints one): it is the key to "
                               "re-encrypt with")
        if not from_secret_key:
            return self.rotate_keys()
        keys = settings.HACONTROL_SECRET_KEYS
        settings.HACONTROL_SECRET_KEYS = [*keys, derived_key()]
        fernet.cache_clear()
        try:
            self.rotate_keys()
        finally:
            settings.HACONTROL_SECRET_KEYS = keys
            fernet.cache_clear()

    def rotate_keys(self) -> None:
        secrets = ["password", "private_key", "key_passphrase"]
        members = saved = clusters = vaults = 0
        with transaction.atomic():
            for member in Member.objects.select_for_update():
                member.save(update_fields=secrets)
                members += 1
            for credential in Credential.objects.select_for_update():
                Credential.objects.filter(pk=credential.pk).update(**{name: getattr(credential, name) for name in secrets})
                saved += 1
            for cluster in Cluster.objects.select_for_update().exclude(dns_key_secret=""):
                cluster.save(update_fields=["dns_key_secret"])
                clusters += 1
            # A job still running keeps its hosts' snapshots (preferences.cfg files) for undo.
            for job in Job.objects.select_for_update().exclude(vault=""):
                Job.objects.filter(pk=job.pk).update(vault=job.vault)
                vaults += 1
        AuditEvent.record(actor(), "credentials re-encrypted",
                          detail=f"{members} member(s), {saved} saved credential(s), {clusters} TSIG key(s), "
                                 f"{vaults} job vault(s)")
        self.stdout.write(f"re-encrypted the credentials of {members} member(s), {saved} saved credential(s), "
                          f"{clusters} cluster TSIG key(s) and the snapshots of {vaults} running job(s) "
                          "with the newest key")

    def do_new_key(self, **options):
        self.stdout.write(Fernet.generate_key().decode())

    def do_worker(self, **options):
        run_worker()

