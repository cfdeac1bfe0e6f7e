from hacontrol.lib.drift import compare, preferences_diff
from hacontrol.lib.masking import mask_preferences

BASE = {"database_type": "postgresql", "DatabaseServer": "db@mmsuite", "DatabaseUsername": "mmsuite",
        "DatabasePassword": "digest-a", "HeartbeatInterval": "5", "HeartbeatMaxAllowedDowntime": "20",
        "format": "tags", "version": "11.0.3"}


def test_members_that_agree_have_no_drift():
    assert compare({"central1": BASE, "central2": dict(BASE)}) == []


def test_a_member_on_another_database_server_is_named_with_the_values_and_counts_as_database_drift():
    found = compare({"central1": BASE, "central2": BASE, "central3": {**BASE, "DatabaseServer": "db2@mmsuite"}})
    assert [d.describe() for d in found] == [
        "DatabaseServer: central1, central2 = db@mmsuite; central3 = db2@mmsuite"]
    assert found[0].database


def test_a_secret_that_differs_is_said_without_a_value_and_is_not_database_drift():
    found = compare({"central1": BASE, "central2": {**BASE, "DatabasePassword": "digest-b"}})
    assert found[0].describe() == "DatabasePassword differs (values not shown): central1 | central2"
    assert "digest" not in str(found[0].as_dict()) and not found[0].database
    found = compare({"central1": {**BASE, "DatabasePassword": None}, "central2": BASE})
    assert found[0].describe() == "DatabasePassword differs (values not shown): central1 (not set) | central2"
    assert [g["set"] for g in found[0].as_dict()["groups"]] == [False, True]


def test_unset_heartbeat_settings_read_as_centrals_defaults_and_unlooked_members_are_left_out():
    found = compare({"central1": BASE, "central2": {**BASE, "HeartbeatInterval": None}, "central3": {}})
    assert found[0].describe() == "HeartbeatInterval: central1 = 5; central2 = (Central's default, 10)"


def test_the_diff_sets_the_name_line_aside_and_marks_a_differing_secret():
    ours = mask_preferences('<Database value="postgresql"/>\n<DatabasePassword value="x1"/>\n'
                            '<ClusterMemberName value="central2"/>\n<LogLevel value="debug"/>\n')
    theirs = mask_preferences('<Database value="postgresql"/>\n<DatabasePassword value="x2"/>\n'
                              '<ClusterMemberName value="central1"/>\n')
    lines = [(line.kind, line.text) for line in preferences_diff(ours, theirs, differing_secrets=["DatabasePassword"])]
    assert lines == [
        (" ", '<Database value="postgresql"/>'),
        ("~", '<DatabasePassword value="********"/>    (differs from the reference\'s; values not shown)'),
        ("+", '<LogLevel value="debug"/>'),
    ]
