"""``veil audit``: check anonymized photos and videos for visible and re-identifiable faces."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from veil.audit import write_reports
from veil.audit.core import AuditOptions, audit_paths
from veil.audit.manifest import Manifest
from veil.audit.reid import MATCH_DISTANCE
from veil.audit.report import AuditReport
from veil.audit.residual import DEFAULT_COVERAGE, DEFAULT_THRESHOLD
from veil.jobs import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from veil.errors import InvalidInputError, VeilError

DEFAULT_REPORT_DIR = "veil-audit"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="veil audit",
        description="Audit anonymized photos and videos: an independent detector (RetinaFace) looks for faces "
        "left visible, and a face recognizer (dlib ResNet) tries to re-identify the redacted ones against "
        "the originals or a gallery. Writes a JSON and a self-contained HTML report.",
        epilog="Exit status: 0 when the report was written (with --strict: only when every file passed), "
        "1 when --strict found a problem, 2 on a usage or model error. A recognizer that fails to "
        "re-identify is a lower bound on an attacker, not a proof of anonymity.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="anonymized files or folders")
    p.add_argument("--originals", nargs="+", type=Path, metavar="PATH",
                   help="the files before anonymization: one per PATH in the same order, or folders "
                   "searched by the manifest's input name, then by file name")
    p.add_argument("--gallery", type=Path, metavar="DIR",
                   help="reference photos of known people (identity = sub-folder name, else file stem)")
    p.add_argument("--manifest", type=Path, metavar="FILE", help="veil's JSONL manifest of redacted regions")
    p.add_argument("--strict", action="store_true", help="exit 1 if any file fails or cannot be audited")
    p.add_argument("--report", type=Path, metavar="DIR", default=Path(DEFAULT_REPORT_DIR),
                   help=f"folder for audit.json and audit.html (default: ./{DEFAULT_REPORT_DIR})")
    p.add_argument("--json", type=Path, metavar="FILE", help="JSON report path (overrides --report)")
    p.add_argument("--html", type=Path, metavar="FILE", help="HTML report path (overrides --report)")
    p.add_argument("--no-thumbnails", action="store_true",
                   help="leave face crops out of the HTML report (they can show an un-redacted face)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"residual detector score threshold (default {DEFAULT_THRESHOLD}; lower is more sensitive)")
    p.add_argument("--coverage", type=float, default=DEFAULT_COVERAGE,
                   help=f"share of a face box that must lie in a redacted region (default {DEFAULT_COVERAGE})")
    p.add_argument("--match-distance", type=float, default=MATCH_DISTANCE,
                   help=f"dlib distance under which two faces are the same person (default {MATCH_DISTANCE})")
    p.add_argument("--sample-fps", type=float, default=AuditOptions.sample_fps,
                   help=f"video frames audited per second (default {AuditOptions.sample_fps:g}; 0 = every frame)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        outputs = expand(args.paths)
        manifest = Manifest.read(args.manifest) if args.manifest else None
        originals = pair_originals(args.paths, outputs, args.originals, manifest) if args.originals else None
        options = AuditOptions(
            threshold=args.threshold,
            coverage=args.coverage,
            match_distance=args.match_distance,
            sample_fps=args.sample_fps,
            thumbnails=not args.no_thumbnails,
        )
        report = audit_paths(outputs, originals=originals, gallery=args.gallery, manifest=manifest, options=options)
        json_path = args.json or args.report / "audit.json"
        html_path = args.html or args.report / "audit.html"
        write_reports(report, json_path, html_path)
    except VeilError as exc:
        print(f"veil audit: {exc}", file=sys.stderr)
        return 2
    print_summary(report, json_path, html_path)
    return 1 if args.strict and not report.ok else 0


def expand(paths: list[Path]) -> list[Path]:
    """Files as given, folders searched recursively for photos and videos (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS)
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInputError(f"no such file or folder: {path}")
    if not files:
        raise InvalidInputError("no photo or video found in " + ", ".join(map(str, paths)))
    return files


def pair_originals(given: list[Path], outputs: list[Path], originals: list[Path],
                   manifest: Manifest | None) -> list[Path | None]:
    """The original of each output: positional when files match files one to one, else looked up by name."""
    if len(originals) == len(given) and all(p.is_file() for p in given) and all(o.is_file() for o in originals):
        return list(originals)
    candidates = expand(originals)
    by_name: dict[str, Path] = {}
    by_stem: dict[str, Path] = {}
    for c in candidates:
        by_name.setdefault(c.name, c)
        by_stem.setdefault(c.stem, c)
    paired: list[Path | None] = []
    for out in outputs:
        names = []
        if manifest is not None:
            record = manifest.by_path(out)
            if record is not None and record.input:
                names.append(Path(record.input).name)
        names.append(out.name)
        match = next((by_name[n] for n in names if n in by_name), None) or by_stem.get(out.stem)
        paired.append(match)
    return paired


def print_summary(report: AuditReport, json_path: Path, html_path: Path) -> None:
    for f in report.files:
        line = f"{f.verdict.upper():5} {f.path}"
        if f.reasons:
            line += ": " + "; ".join(f.reasons)
        print(line)
    s = report.summary()
    print(
        f"{s['passed']} passed, {s['failed']} failed, {s['errors']} errors; "
        f"{s['residual_faces']} visible face(s), "
        f"{s['verified_against_original']}/{s['compared_with_original']} re-identified against originals, "
        f"{s['gallery_matches']}/{s['compared_with_gallery']} gallery matches"
    )
    print(f"report: {json_path} and {html_path}")
