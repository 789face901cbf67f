import json

import numpy as np

from veil.manifest import ManifestWriter, read_manifest


def test_one_json_line_per_record(tmp_path):
    path = tmp_path / "m.jsonl"
    with ManifestWriter(path) as writer:
        writer.write({"input": "a.jpg", "score": np.float32(0.5), "regions": []})
        writer.write({"input": tmp_path / "b.jpg", "regions": [{"box": [1, 2, 3, 4]}]})
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)
    assert read_manifest(path)[1]["input"].endswith("b.jpg")
