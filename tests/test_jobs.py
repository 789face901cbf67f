import pytest

from veil.errors import OutputError
from veil.jobs import plan_jobs


@pytest.fixture()
def tree(tmp_path):
    root = tmp_path / "in"
    (root / "a" / "b").mkdir(parents=True)
    for name in ("x.jpg", "a/y.PNG", "a/b/z.mp4", "a/readme.txt"):
        (root / name).write_bytes(b"")
    return root


def test_folder_tree_is_mirrored(tree, tmp_path):
    plan = plan_jobs([tree], tmp_path / "out")
    assert sorted(j.destination.relative_to(tmp_path / "out").as_posix() for j in plan.jobs) == ["a/b/z.mp4", "a/y.PNG", "x.jpg"]
    assert [p.name for p in plan.skipped] == ["readme.txt"]
    assert {j.source.name: j.kind for j in plan.jobs} == {"x.jpg": "image", "y.PNG": "image", "z.mp4": "video"}


def test_two_folders_go_under_their_names(tree, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "w.jpg").write_bytes(b"")
    plan = plan_jobs([tree, other], tmp_path / "out")
    assert (tmp_path / "out" / "other" / "w.jpg") in [j.destination for j in plan.jobs]
    assert (tmp_path / "out" / "in" / "x.jpg") in [j.destination for j in plan.jobs]


def test_one_file_to_a_file_or_into_a_folder(tree, tmp_path):
    assert plan_jobs([tree / "x.jpg"], tmp_path / "new.jpg").jobs[0].destination == tmp_path / "new.jpg"
    (tmp_path / "dir").mkdir()
    assert plan_jobs([tree / "x.jpg"], tmp_path / "dir").jobs[0].destination == tmp_path / "dir" / "x.jpg"


def test_refuses_output_inside_input_or_over_an_input(tree, tmp_path):
    with pytest.raises(OutputError, match="inside input folder"):
        plan_jobs([tree], tree / "out")
    with pytest.raises(OutputError, match="inside input folder"):
        plan_jobs([tree], tree)
    with pytest.raises(OutputError, match="is an input"):
        plan_jobs([tree / "x.jpg"], tree / "x.jpg")


def test_missing_input(tmp_path):
    with pytest.raises(OutputError, match="no such file"):
        plan_jobs([tmp_path / "nope.jpg"], tmp_path / "out")
