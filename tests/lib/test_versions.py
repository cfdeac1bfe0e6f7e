"""Which Central versions may share a cluster, and which preferences files each can be given."""

from hacontrol.lib.versions import format_problem, versions_problem


def test_members_of_one_major_minor_may_share_a_cluster():
    assert versions_problem("central1", "11.1.0", "central2", "11.1.3") is None


def test_it_refuses_members_of_different_versions_and_names_both():
    problem = versions_problem("central1", "11.1.0", "central2", "11.2.0")
    assert "central1 runs Central 11.1.0" in problem and "central2 runs 11.2.0" in problem


def test_it_refuses_a_member_whose_version_is_unknown():
    assert "version on central2 is unknown" in versions_problem("central1", "11.1.0", "central2", "")


def test_an_ini_file_cannot_go_to_a_central_before_11_2():
    assert "reads only XML-like tags" in format_problem("ini", "11.1.0", "central2")


def test_a_central_upgraded_to_11_2_in_place_still_takes_its_tags_file():
    assert format_problem("tags", "11.2.0", "central2") is None
    assert format_problem("ini", "11.2.0", "central2") is None
