import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hacontrol.lib.prefs import Format, Preferences, PreferencesError

TAGS = b'<Database value="postgresql"/>\r\n<!-- a comment -->\r\n<DatabaseServer value="db@mmsuite"/>\r\n'
INI = b'; Central 11.2\nDatabaseType=mssql\n[Logging]\nLevel = "debug mode" ; chatty\n# end\n'


def test_it_detects_the_tag_format_and_reads_keys_case_insensitively():
    prefs = Preferences.parse(TAGS)
    assert prefs.format is Format.TAGS
    assert prefs.get("database") == "postgresql"
    assert prefs.allows_ha


def test_it_appends_a_name_keeping_every_other_byte_and_the_windows_line_endings():
    prefs = Preferences.parse(TAGS)
    prefs.set("ClusterMemberName", "central1")
    assert prefs.to_bytes() == TAGS + b'<ClusterMemberName value="central1"/>\r\n'


def test_it_rewrites_the_last_repeat_in_place_and_drops_the_others():
    data = b'<ClusterMemberName value="a"/>\n<X value="1"/>\n<clustermembername value="b"/>\n'
    prefs = Preferences.parse(data)
    assert prefs.get("ClusterMemberName") == "b"
    prefs.set("ClusterMemberName", "c")
    assert prefs.to_bytes() == b'<X value="1"/>\n<clustermembername value="c"/>\n'


def test_it_escapes_values_in_the_tag_format_both_ways():
    prefs = Preferences.parse(TAGS)
    prefs.set("Note", 'a "quoted" <b> & c')
    assert b'value="a &quot;quoted&quot; &lt;b&gt; &amp; c"' in prefs.to_bytes()
    assert Preferences.parse(prefs.to_bytes()).get("Note") == 'a "quoted" <b> & c'


def test_it_reads_ini_with_sections_quotes_and_comments():
    prefs = Preferences.parse(INI)
    assert prefs.format is Format.INI
    assert prefs.get("databasetype") == "mssql"
    assert prefs.get("Logging.Level") == "debug mode"
    assert prefs.allows_ha


def test_it_sets_ini_values_quoting_when_needed():
    prefs = Preferences.parse(INI)
    prefs.set("ClusterMemberName", "central 2")
    assert prefs.to_bytes() == INI.replace(b"[Logging]", b'ClusterMemberName="central 2"\n[Logging]')
    assert Preferences.parse(prefs.to_bytes()).get("ClusterMemberName") == "central 2"


def test_it_removes_a_key_and_nothing_else():
    prefs = Preferences.parse(TAGS + b'<ClusterMemberName value="x"/>\r\n')
    assert prefs.remove("clustermembername")
    assert prefs.to_bytes() == TAGS


def test_it_refuses_ha_edits_on_a_sqlite_central():
    prefs = Preferences.parse(b'<Database value="SQLite"/>\n')
    with pytest.raises(PreferencesError, match="needs MSSQL or PostgreSQL"):
        prefs.require_ha()


def test_an_empty_file_means_the_default_sqlite_database():
    prefs = Preferences.parse(b"")
    assert prefs.database_type == "sqlite"
    assert not prefs.allows_ha


def test_it_refuses_binary_and_huge_files():
    with pytest.raises(PreferencesError, match="binary"):
        Preferences.parse(b"\x00\x01\x02")
    with pytest.raises(PreferencesError, match="over the"):
        Preferences.parse(b"x" * (2 * 1024 * 1024))


def test_it_refuses_values_with_line_breaks():
    with pytest.raises(PreferencesError, match="line breaks"):
        Preferences.parse(TAGS).set("ClusterMemberName", "a\nb")


def test_it_keeps_a_byte_order_mark_and_latin1_text():
    data = b"\xef\xbb\xbf" + b'<Database value="mssql"/>\n'
    prefs = Preferences.parse(data)
    prefs.set("ClusterMemberName", "n")
    assert prefs.to_bytes().startswith(b"\xef\xbb\xbf<Database")
    latin = b'<Comment value="caf\xe9"/>\n'
    assert Preferences.parse(latin).to_bytes() == latin


lines = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), max_size=60)
names = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(body=st.lists(lines, max_size=12), name=names, crlf=st.booleans(), ini=st.booleans())
def test_set_then_get_returns_the_name_and_keeps_every_other_line(body, name, crlf, ini):
    newline = "\r\n" if crlf else "\n"
    header = "DatabaseType=mssql" if ini else '<Database value="mssql"/>'
    kept = [line + newline for line in [header, *body] if "clustermembername" not in line.lower()]
    prefs = Preferences.parse("".join(kept).encode())
    prefs.set("ClusterMemberName", name)
    again = Preferences.parse(prefs.to_bytes())
    assert again.get("ClusterMemberName") == name
    added = [line for line in again.lines if line not in kept]
    assert len(added) == 1 and len(again.lines) == len(kept) + 1
    assert [line for line in again.lines if line != added[0]] == kept
