from hypothesis import given, settings
from hypothesis import strategies as st

from hacontrol.lib.masking import MASK, is_secret_name, mask_lines, mask_preferences, mask_value, secret_settings

TAGS = (
    b'<Database value="postgresql"/>\r\n'
    b'<DatabaseServer value="postgres://mm:Url-Secret-1@n1:5432,n2:5432/mmsuite?sslmode=require"/>\r\n'
    b'<DatabaseUsername value="mmsuite"/>\r\n'
    b'<databasepassword value="plaintext:Tag-Secret-2" />\r\n'
    b'<!-- <DatabasePassword value="Old-Secret-3"/> -->\r\n'
    b"<LicenseKey value='Key-Secret-4'/>\r\n"
    b'<ClusterMemberName value="central1"/>\r\n'
)
INI = (
    b"; Central 11.2\n"
    b"DatabaseType=mssql\n"
    b'DatabasePassword = "Ini Secret;5" ; quoted\n'
    b"# DatabasePassword=plaintext:Old-Secret-6\n"
    b"DatabaseServer=sql1\\inst@mmsuite;Password=Inline-Secret-7\n"
    b"[Web]\n"
    b"ApiToken=Token-Secret-8\n"
    b"Level = debug\n"
)
SECRETS = ["Url-Secret-1", "Tag-Secret-2", "Old-Secret-3", "Key-Secret-4", "Ini Secret;5", "Old-Secret-6",
           "Inline-Secret-7", "Token-Secret-8"]


def test_it_masks_every_secret_in_the_tag_format_and_keeps_the_rest():
    masked = mask_preferences(TAGS)
    assert not any(secret in masked for secret in SECRETS)
    assert '<databasepassword value="********" />\r\n' in masked
    assert 'postgres://mm:********@n1:5432,n2:5432/mmsuite?sslmode=require' in masked
    assert '<ClusterMemberName value="central1"/>\r\n' in masked and '<DatabaseUsername value="mmsuite"/>' in masked
    assert masked.count("\r\n") == TAGS.count(b"\r\n")


def test_it_masks_every_secret_in_the_ini_format_comments_and_sections_included():
    masked = mask_preferences(INI)
    assert not any(secret in masked for secret in SECRETS)
    assert "DatabasePassword = ********\n" in masked and "# DatabasePassword=********\n" in masked
    assert "ApiToken=********\n" in masked and "Level = debug\n" in masked
    keys = {line.key: line.secret for line in mask_lines(INI) if line.key}
    assert keys["DatabasePassword"] and keys["Web.ApiToken"] and not keys["Web.Level"]


def test_a_malformed_secret_tag_hides_the_rest_of_its_line():
    masked = mask_preferences(b'<X value="1"/> <Password value="a"b"c/>\n<DatabasePassword value="unterminated\n')
    assert "a\"b" not in masked and "unterminated" not in masked
    assert masked.startswith('<X value="1"/> <Password ' + MASK)


def test_masked_text_masks_again_to_itself():
    for data in (TAGS, INI):
        once = mask_preferences(data)
        assert mask_preferences(once) == once


def test_secret_names_are_the_ones_that_say_password_secret_or_key():
    assert all(is_secret_name(n) for n in ["DatabasePassword", "Password", "LicenseKey", "ApiSecret", "passwd"])
    assert not any(is_secret_name(n) for n in ["DatabaseServer", "HeartbeatInterval", "ClusterMemberName"])
    assert mask_value("host=db user=mm password=abc") == f"host=db user=mm password={MASK}"


def test_secret_settings_gives_the_clear_values_to_compare_and_ignores_comments():
    assert secret_settings(TAGS) == {"databasepassword": "plaintext:Tag-Secret-2", "LicenseKey": "Key-Secret-4"}
    assert secret_settings(INI) == {"DatabasePassword": "Ini Secret;5", "Web.ApiToken": "Token-Secret-8"}


SECRET_TEXT = st.text(st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\"'<>&\\"), min_size=6,
                      max_size=30).filter(lambda s: s.strip() == s and "********" not in s)


@settings(max_examples=200, deadline=None)
@given(secret=SECRET_TEXT, key=st.sampled_from(["DatabasePassword", "Password", "SomeSecret", "LicenseKey"]),
       ini=st.booleans(), crlf=st.booleans())
def test_no_secret_value_survives_masking_in_either_format(secret, key, ini, crlf):
    end = "\r\n" if crlf else "\n"
    if ini:
        value = '"' + secret.replace('"', "") + '"' if any(c in secret for c in " ;#") else secret
        data = f"DatabaseType=postgresql{end}{key}={value}{end}; {key}={value}{end}"
    else:
        data = f'<Database value="postgresql"/>{end}<{key} value="{secret}"/>{end}<!-- <{key} value="{secret}"/> -->{end}'
    assert secret not in mask_preferences(data.encode())
