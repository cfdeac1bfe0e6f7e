"""Files on the hosts keep every byte, their owner and their mode: whatever hacontrol reads, writes,
backs up and puts back on undo, non-UTF-8 bytes included, as root over SFTP and as a non-root login
through sudo (property tests over random bytes, on the real SSH test hosts)."""

import os
import pwd

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hacontrol.ha.models import Job, JobKind, Member
from hacontrol.ha.procedures.base import JobContext, Snapshot
from hacontrol.ha.procedures.members import write_preferences
from hacontrol.remote import borrow
from tests.hosts.ssh_hosts import TEST_USER
from tests.remote.test_ssh import settings_for

PATH = "/var/mmsuite/mmcentral/bytes.cfg"  # beside Central's own file, which Central rewrites as it starts
LOGINS = {"root": {}, "sudo": {"username": TEST_USER, "use_sudo": True}}
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
OWNERS = st.sampled_from(["root", TEST_USER, "nobody"])
MODES = st.sampled_from([0o600, 0o640, 0o644, 0o400])
# Random bytes, and text the way a Windows editor leaves it: Latin-1 and CP1252 accents, a BOM, CRLF.
CONTENT = st.one_of(st.binary(max_size=3000),
                    st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
                    st.text(alphabet="àéü€\r\n <>=\"abc", max_size=300).map(lambda t: t.encode("cp1252", "replace")),
                    st.binary(max_size=200).map(lambda b: b"\xef\xbb\xbf" + b))


def place(host, data: bytes, owner: str, mode: int) -> os.stat_result:
    """The file as an administrator left it (and no earlier backup of it)."""
    path = host.data / "bytes.cfg"
    for old in host.data.glob("bytes.cfg.hacontrol-*.bak"):
        old.unlink()
    path.write_bytes(data)
    user = pwd.getpwnam(owner)
    os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(mode)
    return path.stat()


def same_owner_and_mode(path, like: os.stat_result) -> bool:
    found = path.stat()
    return (found.st_uid, found.st_gid, found.st_mode & 0o7777) == (like.st_uid, like.st_gid, like.st_mode & 0o7777)


@pytest.mark.parametrize("login", LOGINS)
@EXAMPLES
@given(original=st.binary(max_size=3000), new=CONTENT, owner=OWNERS, mode=MODES)
def test_any_bytes_are_read_written_and_backed_up_exactly_keeping_owner_and_mode(ssh_hosts, client_key, login,
                                                                                 original, new, owner, mode):
    host = ssh_hosts[0]
    before = place(host, original, owner, mode)
    with borrow(settings_for(host, client_key, **LOGINS[login])) as remote:
        assert remote.read_file(PATH) == original
        backup = remote.write_file(PATH, new)
        assert remote.read_file(PATH) == new
    written = host.data / "bytes.cfg"
    (kept,) = host.data.glob("bytes.cfg.hacontrol-*.bak")
    assert written.read_bytes() == new and kept.read_bytes() == original and backup.endswith(kept.name)
    assert same_owner_and_mode(written, before) and same_owner_and_mode(kept, before)
    assert sorted(p.name for p in host.data.iterdir() if p.name.startswith((".bytes", ".hacontrol"))) == [], \
        "no temporary file left"


@pytest.fixture
def job(cluster, ssh_hosts, client_key, login) -> Job:
    """A job on a member (reached as ``login``) whose preferences.cfg is the test file."""
    values = dict(address=ssh_hosts[0].address, port=ssh_hosts[0].port, username="root",
                  private_key=client_key.read_text(), host_key=ssh_hosts[0].host_key_line, preferences_path=PATH)
    member = Member.objects.create(cluster=cluster, name="central1", priority=10, **(values | LOGINS[login]))
    return Job.objects.create(kind=JobKind.TUNE, cluster=cluster, member=member, started_by="alice")


def stored_vault(job: Job) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT vault FROM ha_job WHERE id = %s", [job.pk])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("login", LOGINS)
@EXAMPLES
@given(original=CONTENT.filter(lambda b: b"\0" not in b), owner=OWNERS, mode=MODES)
def test_an_undo_puts_any_file_back_byte_for_byte_from_the_encrypted_vault(ssh_hosts, job, login, original, owner,
                                                                          mode):
    host = ssh_hosts[0]
    Job.objects.filter(pk=job.pk).update(vault="")  # each example as a job of its own
    job.refresh_from_db()
    before = place(host, original, owner, mode)
    lines: list[str] = []
    ctx = JobContext(job, log=lines.append)
    data, _ = ctx.read_preferences(job.member)
    assert data == original
    ctx.remember(job.member, Snapshot(preferences=data, running=None))
    step = write_preferences(ctx, job.member, lambda: data, {"ClusterMemberName": "central1"}, "name it")
    step.action()
    step.check()
    assert same_owner_and_mode(host.data / "bytes.cfg", before)
    # Recovery builds its context from the database, as another process would: the vault, encrypted
    # at rest, is all it has of the file.
    assert stored_vault(job).startswith("fernet:")
    JobContext(Job.objects.get(pk=job.pk), log=lines.append).restore_preferences(job.member)
    assert (host.data / "bytes.cfg").read_bytes() == original
    assert same_owner_and_mode(host.data / "bytes.cfg", before)
