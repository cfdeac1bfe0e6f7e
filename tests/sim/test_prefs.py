"""The simulator reads preferences.cfg as the vendor's pages show it (and as README.md's assumptions say)."""
from __future__ import annotations

from tests.hosts.central import prefs as P


def read(text: str | bytes, version: str = "11.0.3") -> P.Settings:
    return P.settings(P.read(text.encode() if isinstance(text, str) else text, version))


def test_vendor_examples_are_read_with_any_tag_case_and_spacing() -> None:
    # central_postgresql.rst (lowercase tags) and central_mssql.rst (space before />)
    s = read('<database value="postgresql"/>\n<databaseserver value="HOST@DB"/>\n'
             '<databaseusername value="USER" />\n<databasepassword value="plaintext:PW" />\n')
    assert (s.database_type, s.database_server, s.database_username, s.database_password) == \
        ("postgresql", "HOST@DB", "USER", "plaintext:PW")
    s = read('<Database value="MSSQL" />\r\n<DatabaseServer value="sql1,1433\\INST@micetro" />\r\n'
             '<ClusterMemberName value="central2"/>\r\n')
    assert (s.database_type, s.database_server, s.cluster_member_name) == ("mssql", "sql1,1433\\INST@micetro",
                                                                           "central2")


def test_xml_values_are_unescaped_and_the_last_repeat_wins() -> None:
    s = read('<DatabaseServer value="postgres://n1:5432,n2:5432/mmsuite?a=1&amp;b=&quot;2&quot;"/>\n'
             '<ClusterMemberName value="first"/>\n<ClusterMemberName value="a&lt;b"/>\n')
    assert s.database_server == 'postgres://n1:5432,n2:5432/mmsuite?a=1&b="2"'
    assert s.cluster_member_name == "a<b"


def test_defaults_are_sqlite_and_the_vendor_heartbeat_defaults() -> None:
    s = read("")
    assert s.database_type == "sqlite"
    assert (s.heartbeat_interval, s.max_downtime) == (10, 30)
    assert s.cluster_member_name is None


def test_heartbeat_settings_outside_the_allowed_ranges_are_clamped() -> None:
    s = read('<HeartbeatInterval value="2"/>\n<HeartbeatMaxAllowedDowntime value="500"/>\n')
    assert (s.heartbeat_interval, s.max_downtime) == (5, 120)
    assert len(s.notes) == 2
    # The typographic quotes printed in ha_tweaks_central.rst are not attribute delimiters: the default stays.
    assert read("<HeartbeatInterval value=\u201c15\u201d />\n").heartbeat_interval == 10


def test_ini_is_read_from_11_2_with_sections_quotes_and_comments() -> None:
    text = ('; Micetro Central\n# comment\nDatabaseType = PostgreSQL\n[Database]\nServer="db 1@mm;suite"\n'
            "Password=plaintext:s3cret ; inline comment\n[Heartbeat]\nInterval=7\n")
    s = read(text, "11.2.0")
    assert (s.fmt, s.database_type, s.database_server, s.database_password, s.heartbeat_interval) == \
        ("ini", "postgresql", "db 1@mm;suite", "plaintext:s3cret", 7)


def test_a_central_before_11_2_does_not_read_ini_and_ini_uses_databasetype() -> None:
    ini = "DatabaseType=postgresql\nDatabaseServer=db@mm\nClusterMemberName=c1\n"
    old = read(ini, "11.1.1")
    assert (old.database_type, old.cluster_member_name) == ("sqlite", None)
    assert read(ini, "11.2.0").database_type == "postgresql"
    # In INI the old key name is not read; in the XML-like format it is (also by 11.2, for upgraded installs).
    assert read("Database=postgresql\n", "11.2.0").database_type == "sqlite"
    assert read('<Database value="postgresql"/>\n', "11.2.0").database_type == "postgresql"


def test_hashing_changes_only_the_password_value() -> None:
    xml = (b'<password value="fp"/>\r\n<database value="postgresql"/>\r\n'
           b'<databasepassword value="plaintext:p&amp;w" />\r\n<Unknown  value=\'x\'/>\r\n\xff trailing\r\n')
    prefs = P.read(xml, "11.0.3")
    out = P.hash_plaintext_passwords(xml, prefs)
    assert out is not None
    before, after = xml.split(b"plaintext:p&amp;w")
    assert out.startswith(before) and out.endswith(after)
    new_value = out[len(before):len(out) - len(after)].decode()
    assert new_value == P.hash_password("p&w") and P.password_from_value(new_value) == "p&w"
    ini = b'[Database]\nPassword = "plaintext:a;b"  ; keep me\nType=mssql\n'
    out = P.hash_plaintext_passwords(ini, P.read(ini, "11.2.0"))
    assert out == ini.replace(b"plaintext:a;b", P.hash_password("a;b").encode())
    assert P.hash_plaintext_passwords(out, P.read(out, "11.2.0")) is None  # nothing left to hash
