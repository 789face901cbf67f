"""The ``veil`` command: a thin layer that parses arguments, calls the library and prints."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import nullcontext
from pathlib import Path

from veil.errors import VeilError

EPILOG = """\
examples:
  veil crowd.jpg -o crowd-anon.jpg              one photo
  veil photos/ -o anon/ --manifest anon.jsonl   a folder, mirrored under anon/, with a record of every region
  veil clip.mp4 -o clip-anon.mp4                a video (sound, timing and rotation kept)
  veil photos/ -o anon/ --mode solid            black ellipses instead of blur
  veil audit anon/ --originals photos/ --strict check the output for residual faces and re-identification

Every face found is redacted; when in doubt veil redacts more, never less. On any error the file
gets no output (its line says why) and the exit status is 1 once the other files are done.

environment:
  VEIL_CACHE_DIR   where the int8 detector built on the first run is kept (default
                   $XDG_CACHE_HOME/veil or ~/.cache/veil); used only if its sha256 is the one veil expects
  VEIL_THREADS     onnxruntime threads per model (default: every core; video detection uses at most half)
"""


def build_parser() -> argparse.ArgumentParser:
    from veil.media.image import DEFAULT_JPEG_QUALITY, DEFAULT_MAX_PIXELS
    from veil.detect import detector_names
    from veil.pipeline import DEFAULT_DETECTOR
    from veil.redact import MODES, SHAPES, Blur, Pixelate

    parser = argparse.ArgumentParser(
        prog="veil", description="Anonymize every face in photos and videos.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image or video files, or folders (searched recursively)")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUT",
                        help="output file (for one input file) or folder; never inside or over an input")
    detect = parser.add_argument_group("detection")
    detect.add_argument("--detector", choices=detector_names(), default=DEFAULT_DETECTOR,
                        help=f"face detector model (default {DEFAULT_DETECTOR}: CenterFace in int8, faster on a CPU than "
                             "its float original, centerface, with the same leak rate: docs/benchmarks.md)")
    detect.add_argument("--threshold", type=float, default=None, metavar="T",
                        help="face score threshold, 0-1 (default: the detector's, 0.1 for CenterFace); "
                             "lower finds more faces and blurs more background")
    redact = parser.add_argument_group("redaction")
    redact.add_argument("--mode", choices=list(MODES), default="blur",
                        help="blur (default), pixelate (WEAK: a recognizer still matched above chance in our LFW "
                             "test, see docs/audit.md) or solid (black fill)")
    redact.add_argument("--strength", type=float, default=None, metavar="S",
                        help=f"blur: sigma as a fraction of the face width (default {Blur.default_strength}); "
                             f"pixelate: blocks across the face (default {Pixelate.default_strength:g}). "
                             "Weaker blur (< 0.15) is WEAK: a recognizer re-identifies it above chance")
    redact.add_argument("--shape", choices=list(SHAPES), default="ellipse", help="shape of the redacted area (default ellipse)")
    redact.add_argument("--mask-scale", type=float, default=1.3, metavar="M",
                        help="grow each face box by this factor before redacting (default 1.3, at least 1)")
    out = parser.add_argument_group("output")
    out.add_argument("--manifest", type=Path, metavar="FILE", help="write a JSON Lines record of every redacted region")
    out.add_argument("--keep-metadata", action="store_true",
                     help="keep non-identifying metadata (camera settings); GPS, serial numbers and thumbnails are still removed")
    out.add_argument("--keep-gps", action="store_true", help="with --keep-metadata, keep GPS position tags too")
    out.add_argument("--jpeg-quality", type=int, default=DEFAULT_JPEG_QUALITY, metavar="Q",
                     help=f"JPEG output quality 1-100 (default {DEFAULT_JPEG_QUALITY})")
    out.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                     help=f"refuse images larger than N pixels, checked before decoding (default {DEFAULT_MAX_PIXELS})")
    out.add_argument("--audit", action="store_true",
                     help="audit the outputs right after anonymizing (residual faces, re-identification against "
                          "the inputs); exit status 1 if anything is found")
    out.add_argument("--audit-report", type=Path, default=Path("veil-audit"), metavar="DIR",
                     help="where --audit writes audit.json and audit.html (default ./veil-audit; keep it out of "
                          "the published tree: its thumbnails show any face that leaked)")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "audit":
        from veil.audit.cli import main as audit_main

        return audit_main(argv[1:])
    args = build_parser().parse_args(argv)
    # SIGTERM would otherwise end Python at once, leaving the file being written as a temporary file.
    handles_term = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if handles_term else None
    try:
        return _run(args)
    except VeilError as error:
        print(f"veil: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("veil: interrupted; no partial output was left", file=sys.stderr)
        return 130
    finally:
        if handles_term:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut short the removal of the temporary file
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from veil.jobs import plan_jobs, remove_stale_temporaries
    from veil.manifest import ManifestWriter, image_record
    from veil.photo import anonymize_photo
    from veil.pipeline import Anonymizer

    if args.keep_gps and not args.keep_metadata:
        raise VeilError("--keep-gps needs --keep-metadata")
    plan = plan_jobs(args.paths, args.output)
    try:
        anonymizer = Anonymizer(detector=args.detector, threshold=args.threshold, mode=args.mode, shape=args.shape,
                                mask_scale=args.mask_scale, strength=args.strength)
    except ValueError as error:
        raise VeilError(str(error)) from None
    failures = 0
    records: list[dict] = []
    manifest = ManifestWriter(args.manifest) if args.manifest else None
    with manifest or nullcontext(), tqdm(plan.jobs, unit="file", disable=True if args.quiet else None) as bar:
        for job in bar:
            bar.set_postfix_str(job.source.name, refresh=False)
            try:
                remove_stale_temporaries(job.destination)
                if job.kind == "video":
                    from veil.video import anonymize_video

                    job.destination.parent.mkdir(parents=True, exist_ok=True)
                    record = anonymize_video(job.source, job.destination, anonymizer, progress=not args.quiet)
                elif job.kind == "image":
                    record = anonymize_photo(job.source, job.destination, anonymizer,
                                             keep_metadata=args.keep_metadata, keep_gps=args.keep_gps,
                                             jpeg_quality=args.jpeg_quality, max_pixels=args.max_pixels)
                else:
                    raise VeilError("not an image or video file veil knows (by its extension)")
            except Exception as error:  # one file's failure must not stop the others; nothing was written for it
                failures += 1
                reason = _reason(error).removeprefix(f"{job.source}: ")
                tqdm.write(f"veil: {job.source}: {reason}", file=sys.stderr)
                record = image_record(input=job.source, output=None, output_sha256=None, width=0, height=0,
                                      model=anonymizer.model, settings=anonymizer.settings, regions=[],
                                      error=reason)
            records.append(record)
            if manifest:
                manifest.write(record)
    done = len(plan.jobs) - failures
    if plan.skipped and not args.quiet:
        print(f"veil: skipped {len(plan.skipped)} files that are not images or videos", file=sys.stderr)
    if not args.quiet:
        print(f"veil: {done} of {len(plan.jobs)} files anonymized" + (f", {failures} failed" if failures else ""),
              file=sys.stderr)
    if args.audit and not _audit(records, args.audit_report):
        return 1
    return 1 if failures else 0


def _audit(records: list[dict], report_dir: Path) -> bool:
    """Audit every output against its input; True when nothing was found."""
    from veil.audit import audit_paths, write_reports
    from veil.audit.cli import print_summary

    written = [r for r in records if r.get("output")]
    report = audit_paths([r["output"] for r in written], originals=[r["input"] for r in written], manifest=written)
    json_path, html_path = report_dir / "audit.json", report_dir / "audit.html"
    write_reports(report, json_path, html_path)
    print_summary(report, json_path, html_path)
    return report.ok


def _reason(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    if isinstance(error, VeilError):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


