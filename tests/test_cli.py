import json

import numpy as np
import pytest
from PIL import Image
from synthetic import ASTRONAUT_FACE, astronaut, detail

from veil.cli import main


@pytest.fixture()
def photos(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(astronaut()).save(root / "a.jpg", quality=95)
    Image.fromarray(astronaut()).save(root / "sub" / "b.png")
    (root / "notes.txt").write_text("not an image")
    return root


def face_detail(path):
    x1, y1, x2, y2 = ASTRONAUT_FACE
    return detail(np.asarray(Image.open(path).convert("L"))[y1 + 20 : y2 - 20, x1 + 20 : x2 - 20])


def test_folder_is_mirrored_with_same_names_and_formats(photos, tmp_path):
    out = tmp_path / "out"
    assert main([str(photos), "-o", str(out), "-q"]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["a.jpg", "sub/b.png"]
    assert Image.open(out / "a.jpg").format == "JPEG" and Image.open(out / "sub" / "b.png").format == "PNG"
    assert face_detail(out / "sub" / "b.png") < 0.2 * face_detail(photos / "sub" / "b.png")


def test_single_file_to_a_file(photos, tmp_path):
    assert main([str(photos / "a.jpg"), "-o", str(tmp_path / "x.jpg"), "-q"]) == 0
    assert Image.open(tmp_path / "x.jpg").size == (512, 512)


def test_bad_file_gets_one_line_no_output_and_exit_1(photos, tmp_path, capsys):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = tmp_path / "out"
    assert main([str(photos), "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.jpg" in err[0]
    assert not (out / "broken.jpg").exists()
    assert (out / "a.jpg").exists() and (out / "sub" / "b.png").exists()  # the others still processed


def test_never_writes_into_or_over_its_input(photos, capsys):
    assert main([str(photos), "-o", str(photos / "out"), "-q"]) == 2
    assert main([str(photos / "a.jpg"), "-o", str(photos / "a.jpg"), "-q"]) == 2
    assert "never writes" in capsys.readouterr().err
    assert not (photos / "out").exists()


def test_manifest_records_every_region(photos, tmp_path):
    manifest = tmp_path / "m.jsonl"
    assert main([str(photos), "-o", str(tmp_path / "out"), "--manifest", str(manifest), "--mode", "solid", "-q"]) == 0
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["model"]["name"] == "centerface-int8" and len(record["model"]["sha256"]) == 64
        assert record["settings"]["mode"] == "solid" and record["width"] == 512
        region = max(record["regions"], key=lambda r: r["score"])
        x1, y1, x2, y2 = region["box"]
        fx1, fy1, fx2, fy2 = ASTRONAUT_FACE
        assert x1 <= fx1 + 10 and y1 <= fy1 + 10 and x2 >= fx2 - 10 and y2 >= fy2 - 10
        assert region["shape"] == "ellipse" and region["source"] == "detector"
        out = np.asarray(Image.open(record["output"]).convert("RGB"))
        cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
        assert out[cy, cx].max() < 10  # the solid fill is in the output where the manifest says


def test_help_teaches(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "--mask-scale" in text and "WEAK" in text


def test_bad_option_value(photos, tmp_path, capsys):
    assert main([str(photos), "-o", str(tmp_path / "o"), "--mask-scale", "0.5", "-q"]) == 2
    assert "mask scale" in capsys.readouterr().err


def test_audit_right_after_anonymizing(photos, tmp_path, capsys):
    pytest.importorskip("dlib")
    report = tmp_path / "audit"
    assert main([str(photos), "-o", str(tmp_path / "out"), "--audit", "--audit-report", str(report), "-q"]) == 0
    assert (report / "audit.json").is_file() and (report / "audit.html").is_file()
    assert "2 passed" in capsys.readouterr().out
