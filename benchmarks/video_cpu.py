"""Where veil's CPU goes on a video, next to a plain transcode of the same clip.

    .venv/bin/python benchmarks/video_cpu.py CLIP [--work /tmp/veil-video-cpu] [--json OUT]

CLIP is any video, e.g. the generated 1080p clip of ``benchmarks/video.py`` (``--work`` of that
benchmark, ``clip_1080p.mp4``). Measured, one after the other:

1. veil with its defaults (``veil.video.anonymize_video``), wall and process CPU time, and the CPU time of
   each stage, summed over the threads that run it (``time.thread_time`` around the stage's function):
   detection (``_Job._pass``: frame conversion and onnxruntime), camera motion and cuts
   (``frame_change``), tracking (``TemporalCarry.observe``/``resolve``) and redaction (``redact_frame``).
   The rest is decoding and encoding (FFmpeg's own threads) and Python glue.
2. plain ``ffmpeg -i CLIP -c:v libx264 -c:a copy`` (the video benchmark's baseline), wall and CPU time.
3. What redaction costs the encoder: the CPU time of encoding CLIP and of encoding veil's output of it
   written losslessly (the same pictures the encoder got inside veil), each as an ffmpeg transcode minus
   an ffmpeg decode of the same file, and the size of each encoded result.

Stage times are measured by wrapping veil's internal functions, so this script follows their names.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.photos import machine, publish  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ffmpeg(arguments: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one ffmpeg command."""
    import imageio_ffmpeg

    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", *arguments], check=True)
    return time.perf_counter() - start, children_cpu() - cpu


def veil_stages(clip: Path, output: Path, **encoder) -> dict:
    """Run veil on ``clip`` with every stage's function wrapped to sum its thread CPU time."""
    import veil.video as video
    from veil.pipeline import Anonymizer

    spent: dict[str, float] = defaultdict(float)
    patched = {(video._Job, "_pass"): "detection", (video, "frame_change"): "camera motion and cuts",
               (video.TemporalCarry, "observe"): "tracking", (video.TemporalCarry, "resolve"): "tracking",
               (video, "redact_frame"): "redaction"}
    originals = {key: getattr(*key) for key in patched}

    def timed(function, stage):
        def wrapper(*args, **kwargs):
            start = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[stage] += time.thread_time() - start
        return wrapper

    for (owner, name), stage in patched.items():
        setattr(owner, name, timed(originals[(owner, name)], stage))
    try:
        anonymizer = Anonymizer()
        cpu, start = time.process_time(), time.perf_counter()
        video.anonymize_video(clip, output, anonymizer, progress=False, **encoder)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        for (owner, name), function in originals.items():
            setattr(owner, name, function)
    return {"wall": wall, "cpu": cpu, "stages": dict(spent)}


def encode_cost(path: Path, work: Path) -> dict:
    """CPU seconds of encoding ``path``'s pictures with the plain transcode's settings (transcode minus decode)."""
    _, decode = run_ffmpeg(["-i", str(path), "-f", "null", "-"])
    encoded = work / f"{path.stem}.reencoded.mp4"
    _, transcode = run_ffmpeg(["-i", str(path), "-an", "-c:v", "libx264", str(encoded)])
    return {"encode_cpu": transcode - decode, "bytes": encoded.stat().st_size}


def markdown(report: dict) -> str:
    veil, plain = report["veil"], report["plain"]
    lines = [f"## Video CPU ({report['date']})", "", f"- Command: `{report['command']}`",
             f"- Machine: {report['machine']}; at end {report['load_end']}", f"- Clip: `{report['clip']}`, {report['frames']} frames", "",
             "| | wall (s) | CPU (s) | CPU per frame (ms) |", "|---|---|---|---|",
             f"| plain ffmpeg libx264 | {plain['wall']:.1f} | {plain['cpu']:.1f} | {1000 * plain['cpu'] / report['frames']:.0f} |",
             f"| veil, all | {veil['wall']:.1f} | {veil['cpu']:.1f} | {1000 * veil['cpu'] / report['frames']:.0f} |"]
    rest = veil["cpu"] - sum(veil["stages"].values())
    for stage, seconds in [*sorted(veil["stages"].items(), key=lambda kv: -kv[1]), ("decoding, encoding and the rest", rest)]:
        lines.append(f"| veil: {stage} | | {seconds:.1f} | {1000 * seconds / report['frames']:.0f} |")
    original, redacted = report["encode"]["input"], report["encode"]["redacted"]
    lines += ["", "| encoding with libx264 (CRF 23, medium) | CPU (s) | size (MB) |", "|---|---|---|",
              f"| the input's pictures | {original['encode_cpu']:.1f} | {original['bytes'] / 1e6:.2f} |",
              f"| veil's redacted pictures | {redacted['encode_cpu']:.1f} | {redacted['bytes'] / 1e6:.2f} |"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/veil-video-cpu"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv]) if argv is None else shlex.join(argv)
    report = {"date": dt.date.today().isoformat(), "command": command, "machine": machine(), "clip": str(args.clip)}
    veil_out = args.work / f"{args.clip.stem}.veil.mp4"
    report["veil"] = veil_stages(args.clip, veil_out)
    plain = args.work / f"{args.clip.stem}.plain.mp4"
    wall, cpu = run_ffmpeg(["-i", str(args.clip), "-c:v", "libx264", "-c:a", "copy", str(plain)])
    report["plain"] = {"wall": wall, "cpu": cpu}
    lossless = args.work / f"{args.clip.stem}.veil-lossless.mp4"
    veil_stages(args.clip, lossless, crf=0, preset="ultrafast")
    report["encode"] = {"input": encode_cost(args.clip, args.work), "redacted": encode_cost(lossless, args.work)}
    import av

    with av.open(str(args.clip)) as container:
        report["frames"] = sum(1 for _ in container.decode(video=0))
    report["load_end"] = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    publish(report, markdown(report), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
