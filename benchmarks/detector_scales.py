"""How the detector's recall depends on the scale it sees a picture at: the cost of a cheaper video fine pass.

    .venv/bin/python benchmarks/detector_scales.py [--data ../shared/data] [--scales 1,0.833,0.667] [--json OUT]

The video job's fine pass runs the detector once on the frame at up to ``Schedule.fine_side`` pixels on
its long side (native resolution for 1080p). A smaller side costs less (the detector's time grows with
the pixel count) but shrinks every face. This runs veil's video detector (one pass, the anonymizer's
threshold, as the fine pass does) on each WIDER FACE val image of the subset shrunk by each scale, and
reports the share of annotated faces found (IoU >= 0.3 with a detection) per face height in the original
image, and the detector's CPU time per megapixel of input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.datasets import wider_images  # noqa: E402
from benchmarks.photos import machine, publish  # noqa: E402

BANDS = [(6, 10), (10, 13), (13, 16), (16, 24), (24, 32), (32, 64), (64, None)]


def band_name(low: int, high: int | None) -> str:
    return f">={low}" if high is None else f"{low}-{high}"


def measure(data: Path, scales: list[float]) -> dict:
    from veil.detections import box_iou
    from veil.pipeline import Anonymizer
    from veil.video import job_detector

    anonymizer = Anonymizer()
    detector = job_detector(anonymizer)
    found = {s: np.zeros(len(BANDS), np.int64) for s in scales}
    cpu = {s: 0.0 for s in scales}
    pixels = {s: 0 for s in scales}
    total = np.zeros(len(BANDS), np.int64)
    for truth in wider_images(data):
        image = np.ascontiguousarray(cv2.imread(str(truth.path))[:, :, ::-1])
        heights = truth.boxes[:, 3] - truth.boxes[:, 1]
        bands = [(heights >= low) & (heights < (high or np.inf)) for low, high in BANDS]
        total += [b.sum() for b in bands]
        for scale in scales:
            size = (max(2, round(image.shape[1] * scale)), max(2, round(image.shape[0] * scale)))
            small = image if scale == 1 else np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
            start = time.thread_time()
            boxes = detector.forward(small, anonymizer.threshold).scaled(image.shape[1] / size[0], image.shape[0] / size[1])
            cpu[scale] += time.thread_time() - start
            pixels[scale] += size[0] * size[1]
            hit = box_iou(truth.boxes.astype(np.float32), boxes.boxes).max(axis=1, initial=0.0) >= 0.3
            found[scale] += [(hit & b).sum() for b in bands]
    return {"bands": [band_name(*b) for b in BANDS], "faces": total.tolist(),
            "scales": {str(s): {"found": found[s].tolist(), "cpu_ms_per_megapixel": 1000 * cpu[s] / (pixels[s] / 1e6)}
                       for s in scales}}


def markdown(report: dict) -> str:
    figures = report["figures"]
    lines = [f"## Detector recall by scale ({report['date']})", "", f"- Command: `{report['command']}`",
             f"- Machine: {report['machine']}", f"- Model: {report['model']}, threshold {report['threshold']}", "",
             "| scale | " + " | ".join(f"faces {b} px" for b in figures["bands"]) + " | CPU ms per megapixel |",
             "|---" * (len(figures["bands"]) + 2) + "|",
             "| faces | " + " | ".join(str(n) for n in figures["faces"]) + " | |"]
    for scale, row in figures["scales"].items():
        shares = [f"{f / n:.0%}" if n else "-" for f, n in zip(row["found"], figures["faces"])]
        lines.append(f"| {scale} | " + " | ".join(shares) + f" | {row['cpu_ms_per_megapixel']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--scales", default="1,0.833,0.667", help="comma-separated, 1 = native")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not wider_images(args.data):
        parser.error(f"no WIDER FACE images under {args.data}")
    from veil.pipeline import Anonymizer

    anonymizer = Anonymizer()
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv]) if argv is None else shlex.join(argv)
    report = {"date": dt.date.today().isoformat(), "command": command, "machine": machine(),
              "model": anonymizer.model.name, "threshold": anonymizer.threshold,
              "figures": measure(args.data, [float(s) for s in args.scales.split(",")])}
    publish(report, markdown(report), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
