"""Photo benchmark: veil vs deface 1.5.0 on the WIDER FACE val subset and the Face Mask Detection set.

    .venv/bin/python benchmarks/photos.py [--data ../shared/data] [--limit N] [--json OUT]

Prints a markdown report (date, command, machine, one table per set) for docs/benchmarks.md.
Images are read from ``--data`` and never written anywhere; outputs stay in memory.

Per set and tool, on the OUTPUT image of each tool at default settings (veil ``Anonymizer().anonymize``,
deface with its CLI defaults: threshold 0.2, mask_scale 1.3, blur, ellipse):

- leak rate: share of faces still identifiable, by face height band (<16, 16-32, 32-64, >=64 px) and
  overall. WIDER counts its "hard" faces (which include medium and easy); the mask set counts every box.
  Criterion (see ``benchmarks/metrics.py``): a face is leaked when more than 30% of its own detail survives
  in the ellipse inscribed in its GT box: hp = gray - GaussianBlur(gray, sigma), sigma = max(1, height / 32),
  survival = sum(hp_in * hp_out) / sum(hp_in ** 2); a detail-free face counts as covered only if at least
  half its ellipse changed. The brief's first proposal (sum |hp_out| / sum |hp_in| > 0.3, sigma = 1) is
  reported alongside.
- over-redaction: share of pixels outside every annotated face box (all WIDER faces, ignored ones
  included) that changed, i.e. some channel differs by more than 2 (in-memory arrays, no re-encode).
- box coverage: mean share of a counted face's GT box that lies inside the tool's redacted region boxes.
- seconds per image: wall time of detection + redaction on the decoded RGB array (decode excluded), both
  tools in the same process, warmed up first, alternating which runs first.
- WIDER AP easy/medium/hard: official protocol (see ``metrics.py``) on the detections of
  ``detect(rgb, threshold)`` at a low threshold (veil keeps its multi-scale detector); scored on the images
  present only. These detector calls are not timed.
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
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import metrics  # noqa: E402
from benchmarks.datasets import SETTINGS, GroundTruth, mask_images, wider_images  # noqa: E402
from benchmarks.tools import DefaceTool, VeilTool  # noqa: E402

VEIL_AP_THRESHOLD = 0.02
# deface's pure-Python NMS is quadratic: at 0.02 it takes ~4 s on a crowd photo, at 0.05 ~1 s.
DEFACE_AP_THRESHOLD = 0.05
AP_THRESHOLDS = {"veil": VEIL_AP_THRESHOLD, "deface": DEFACE_AP_THRESHOLD}
BAND_NAMES = [b[0] for b in metrics.BANDS]


@dataclass
class Tally:
    """Everything one tool scored on one set."""

    band: list[str] = field(default_factory=list)
    leaked: list[bool] = field(default_factory=list)
    leaked_brief: list[bool] = field(default_factory=list)  # |hp| ratio at sigma = 1
    flat: list[bool] = field(default_factory=list)
    coverage: list[float] = field(default_factory=list)
    overlapped: list[bool] = field(default_factory=list)
    changed_outside: int = 0
    outside: int = 0
    seconds: list[float] = field(default_factory=list)
    preds: list[np.ndarray] = field(default_factory=list)

    def summary(self) -> dict:
        band = np.asarray(self.band)
        leaked = np.asarray(self.leaked, bool)
        brief = np.asarray(self.leaked_brief, bool)
        overlapped = np.asarray(self.overlapped, bool)
        groups = {"all": np.ones(len(band), bool), ">=16": band != "<16"}
        groups.update({name: band == name for name in BAND_NAMES})
        leak = {}
        for name, sel in groups.items():
            leak[name] = {
                "faces": int(sel.sum()),
                "leaked": int(leaked[sel].sum()),
                "rate": _rate(leaked[sel].sum(), sel.sum()),
                "leaked_brief_criterion": int(brief[sel].sum()),
                "rate_brief_criterion": _rate(brief[sel].sum(), sel.sum()),
                "leaked_with_detection_overlap": int((leaked & overlapped & sel).sum()),
                "leaked_without_detection": int((leaked & ~overlapped & sel).sum()),
                "box_coverage": float(np.mean(np.asarray(self.coverage)[sel])) if sel.any() else None,
            }
        return {
            "leak": leak,
            "flat_faces": int(np.sum(self.flat)),
            "over_redaction": _rate(self.changed_outside, self.outside),
            "seconds_per_image_mean": float(np.mean(self.seconds)) if self.seconds else None,
            "seconds_per_image_median": float(np.median(self.seconds)) if self.seconds else None,
            "images": len(self.seconds),
        }


def _rate(num, den) -> float | None:
    return float(num) / float(den) if den else None


def decode(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot decode {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def score_output(tally: Tally, gt: GroundTruth, counted: np.ndarray, rgb: np.ndarray, gray_in: np.ndarray, out) -> None:
    changed = metrics.changed_mask(rgb, out.image)
    gray_out = metrics.to_gray(out.image)
    boxes = gt.boxes[counted]
    for box in boxes:
        scaled = metrics.face_detail(gray_in, gray_out, changed, box)
        fine = metrics.face_detail(gray_in, gray_out, changed, box, sigma=1.0)
        tally.band.append(metrics.band_of(box[3] - box[1]))
        tally.leaked.append(scaled.leaked)
        tally.leaked_brief.append(fine.leaked_abs_ratio)
        tally.flat.append(scaled.flat)
    tally.coverage.extend(metrics.box_coverage(boxes, out.regions, changed.shape).tolist())
    tally.overlapped.extend(metrics.overlaps_any(boxes, out.detections).tolist())
    changed_out, outside = metrics.over_redaction(changed, gt.boxes)
    tally.changed_outside += changed_out
    tally.outside += outside


def run_set(name: str, images: list[GroundTruth], tools: list, wider: bool) -> dict[str, Tally]:
    tallies = {tool.name: Tally() for tool in tools}
    for i, gt in enumerate(tqdm(images, desc=name, unit="img")):
        rgb = decode(gt.path)
        gray_in = metrics.to_gray(rgb)
        counted = gt.kept["hard"] if wider else np.ones(len(gt.boxes), bool)
        for tool in tools if i % 2 == 0 else tools[::-1]:
            start = time.perf_counter()
            out = tool.run(rgb)
            tallies[tool.name].seconds.append(time.perf_counter() - start)
            score_output(tallies[tool.name], gt, counted, rgb, gray_in, out)
            if wider:
                tallies[tool.name].preds.append(tool.detect(rgb, AP_THRESHOLDS[tool.name]))
    return tallies


def wider_aps(images: list[GroundTruth], tally: Tally) -> dict[str, float]:
    gts = [g.boxes for g in images]
    return {s: metrics.wider_ap(tally.preds, gts, [g.kept[s] for g in images]) for s in SETTINGS}


def subsample(items: list, limit: int | None) -> list:
    """``limit`` items spread evenly over the list, so a quick run still sees every event."""
    if limit is None or limit >= len(items):
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{len(os.sched_getaffinity(0))} cores (nproc), {model}, {platform.system()} {platform.machine()}, load average at start {load}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _leak(entry: dict, key: str = "") -> str:
    leaked = entry["leaked_brief_criterion"] if key == "brief" else entry["leaked"]
    rate = entry["rate_brief_criterion"] if key == "brief" else entry["rate"]
    return f"{_pct(rate)} ({leaked}/{entry['faces']})"


def markdown(report: dict) -> str:
    tools = report["tools"]
    lines = [
        f"## Photo benchmark ({report['date']})",
        "",
        f"- Command: `{report['command']}`",
        f"- Machine: {report['machine']}; run time {report['run_seconds'] / 60:.1f} min",
        *[f"- {name}: {desc}" for name, desc in report["tool_descriptions"].items()],
        "- Leaked face: more than 30% of its own detail survives in the ellipse inscribed in its GT box: "
        "hp = gray - GaussianBlur(gray, sigma = max(1, height / 32)), survival = sum(hp_in * hp_out) / sum(hp_in^2) "
        "(brief's-criterion row: sum |hp_out| / sum |hp_in| at sigma = 1, which also counts mask edges). "
        "Over-redaction: share of pixels outside all GT face boxes with a channel changed by > 2.",
    ]
    for key, title in (("wider", "WIDER FACE val subset"), ("mask", "Face Mask Detection")):
        if key not in report["sets"]:
            continue
        res = report["sets"][key]
        first = res[tools[0]]["leak"]["all"]
        counted = "hard-set faces" if key == "wider" else "faces"
        lines += ["", f"### {title}: {res['images']} images, {first['faces']} {counted}", "",
                  "| metric | " + " | ".join(tools) + " |", "|---" * (len(tools) + 1) + "|"]

        def row(label: str, cell) -> None:
            lines.append(f"| {label} | " + " | ".join(cell(res[t]) for t in tools) + " |")

        if key == "wider":
            row("AP easy / medium / hard (detect threshold: " + ", ".join(
                f"{t} {AP_THRESHOLDS[t]}" for t in tools) + ")",
                lambda r: " / ".join(f"{r['ap'][s]:.3f}" for s in SETTINGS))
        row("leak, all faces", lambda r: _leak(r["leak"]["all"]))
        for band in BAND_NAMES:
            row(f"leak, {band} px", lambda r, b=band: _leak(r["leak"][b]))
        row("leak, >= 16 px", lambda r: _leak(r["leak"][">=16"]))
        row("leak, brief's criterion: all / >= 16 px",
            lambda r: f"{_leak(r['leak']['all'], 'brief')} / {_leak(r['leak']['>=16'], 'brief')}")
        row("box coverage (mean share of GT box in regions)", lambda r: _pct(r["leak"]["all"]["box_coverage"]))
        row("over-redaction", lambda r: _pct(r["over_redaction"]))
        row("seconds / image, mean (median)",
            lambda r: f"{r['seconds_per_image_mean']:.3f} ({r['seconds_per_image_median']:.3f})")
    lines += ["", "### Leaked faces: a detection overlapping the face vs none", "",
              "| set | tool | " + " | ".join(BAND_NAMES) + " | all |", "|---" * (len(BAND_NAMES) + 3) + "|"]
    for key, res in report["sets"].items():
        for t in tools:
            cells = []
            for band in [*BAND_NAMES, "all"]:
                e = res[t]["leak"][band]
                cells.append(f"{e['leaked']} = {e['leaked_with_detection_overlap']} + {e['leaked_without_detection']}")
            lines.append(f"| {key} | {t} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Cells: leaked = with an overlapping detection + with none.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared data folder")
    parser.add_argument("--limit", type=int, default=None, help="use N images per set (spread evenly)")
    parser.add_argument("--json", type=Path, default=None, help="also write the full results as JSON here")
    parser.add_argument("--sets", default="wider,mask", help="comma-separated subset of: wider,mask")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv]) if argv is None else shlex.join(argv)

    tools = [VeilTool(), DefaceTool()]
    wanted = args.sets.split(",")
    loaders = {"wider": wider_images, "mask": mask_images}
    sets = {key: subsample(loaders[key](args.data), args.limit) for key in wanted}
    for images in sets.values():  # warm-up: sessions, allocations for this image shape
        rgb = decode(images[0].path)
        for tool in tools:
            tool.run(rgb)

    report = {
        "date": dt.date.today().isoformat(),
        "command": command,
        "machine": machine(),
        "tools": [t.name for t in tools],
        "tool_descriptions": {t.name: t.description for t in tools},
        "ap_thresholds": AP_THRESHOLDS,
        "criterion": {"leak_ratio": metrics.LEAK_RATIO, "flat_detail": metrics.FLAT_DETAIL,
                      "identity_height": metrics.IDENTITY_HEIGHT, "change_tolerance": metrics.CHANGE_TOLERANCE},
        "sets": {},
    }
    for key, images in sets.items():
        tallies = run_set(key, images, tools, wider=key == "wider")
        res = {"images": len(images)}
        for name, tally in tallies.items():
            res[name] = tally.summary()
            if key == "wider":
                res[name]["ap"] = wider_aps(images, tally)
        report["sets"][key] = res
    report["run_seconds"] = time.perf_counter() - started
    publish(report, markdown(report), args.json)
    return 0


def publish(report: dict, text: str, json_path: Path | None) -> None:
    """Print the markdown report and, when asked, write the full figures as JSON."""
    print(text)
    if json_path:
        json_path.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
