"""Video benchmark: per-frame leak on clips with ground truth, stream fidelity, throughput vs two baselines.

    .venv/bin/python benchmarks/video.py [--data ../shared/data] [--work /tmp/veil-video-bench] [--json OUT]
                                         [--skip-deface] [--quick]

1. Generates (into ``--work``, never the repository) the 720p and 1080p pan/zoom clips of
   ``benchmarks/video_clips.py`` from the WIDER FACE val subset, with per-frame ground truth and audio.
2. Runs veil (``veil.video.anonymize_video`` with a default ``Anonymizer``) on each clip and scores its
   output frame by frame with the photo benchmark's leak criterion (``benchmarks/metrics.py``: a face is
   leaked when more than 30% of its detail survives in the ellipse inscribed in its GT box): the leak rate
   per face height band (<16, 16-32, 32-64, >=64 px, heights in frame pixels) and, per face, the longest
   run of consecutive leaked frames. deface's output of the 1080p clip is scored the same way. The photo
   leak rate of veil on the same WIDER images (hard-set faces, photo pixels) is given for comparison.
   Over-redaction, as in the photo benchmark: the share of pixels outside every annotated face box (all
   WIDER faces, ignored ones included) with a channel changed by more than 2. Re-encoding changes most
   pixels a little, so it is measured on a second veil run of the clip written losslessly (x264 CRF 0,
   the same detections and masks: the manifests of both runs are compared), where every pixel outside the
   masks keeps its decoded value; veil's photo over-redaction on the same images is given beside it.
3. Checks the output stream of each veil run: frame count, every frame timestamp, every audio packet
   (payload and timestamps) identical to the input, and the container/stream tags left. Lists the frames
   veil takes for cuts in the generated clips (against their known cuts) and in the real clips of
   ``video_clips/``, with the histogram distances the cut test compares.
4. Throughput on the 1080p clip and on the real 1080p clip in ``video_clips/``, in the same run:
   ``deface IN -o OUT`` once (deface 1.5.0 CLI, its defaults), then plain ``ffmpeg -i IN -c:v libx264
   -c:a copy OUT`` (imageio-ffmpeg's binary) and veil (defaults: H.264 CRF 23, preset medium, frame
   threads: the same encoder settings as the plain transcode; timed like the two others as a process of
   its own, start-up included, with the int8 model already built into veil's cache by step 2) alternating
   ``--repeats`` times (default 3),
   as frames per second of the median wall time; every run's time is listed. The load average at start
   and end is recorded: on a shared machine only ratios within one run compare.

``--quick`` measures only the leak and over-redaction of veil (steps 1-3, no deface, no throughput), to
iterate on the detection schedule; ``--schedule '{"fine_every": 8}'`` runs veil with other
``veil.video.Schedule`` fields.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import metrics  # noqa: E402
from benchmarks.datasets import describe_face, wider_labels  # noqa: E402
from benchmarks.photos import machine, publish  # noqa: E402
from benchmarks.video_clips import SHOT_FRAMES, make_clips, pick_shots  # noqa: E402

REAL_CLIP = "video_clips/facenet_pytorch_examples_video.mp4"
BAND_NAMES = [b[0] for b in metrics.BANDS]


def frames_rgb(path: Path):
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def score_clip(clip: Path, output: Path, truth: dict) -> dict:
    """Per-frame leak by band and the longest leaked run per face, on the output pixels."""
    faces = defaultdict(list)  # face id -> [(frame, band, leaked)]
    count = 0
    for index, (before, after) in enumerate(zip(frames_rgb(clip), frames_rgb(output), strict=True)):
        rows = truth["frames"][index]
        count += 1
        after = after[: before.shape[0], : before.shape[1]]  # deface writes 1080p as 1920x1088
        if not rows:
            continue
        gray_in, gray_out = metrics.to_gray(before), metrics.to_gray(after)
        changed = metrics.changed_mask(before, after)
        for face_id, *box in rows:
            box = np.asarray(box, np.float64)
            leaked = metrics.face_detail(gray_in, gray_out, changed, box).leaked
            faces[face_id].append((index, metrics.band_of(box[3] - box[1]), leaked))
    if count != len(truth["frames"]):
        raise SystemExit(f"{output}: {count} frames, expected {len(truth['frames'])}")
    tally = {name: [0, 0] for name in [*BAND_NAMES, "all", ">=32"]}
    runs = []
    for entries in faces.values():
        longest = current = 0
        last = None
        for index, band, leaked in entries:
            for name in (band, "all", *([">=32"] if band in ("32-64", ">=64") else [])):
                tally[name][0] += leaked
                tally[name][1] += 1
            current = current + 1 if leaked and last == index - 1 and current else int(leaked)
            longest = max(longest, current)
            last = index
        runs.append(longest)
    runs = np.asarray(runs)
    leaked_large = {str(face): [index for index, band, leaked in entries if leaked and band in ("32-64", ">=64")]
                    for face, entries in faces.items()}
    return {
        "leak": {k: {"leaked": v[0], "face_frames": v[1], "rate": v[0] / v[1] if v[1] else None} for k, v in tally.items()},
        "faces": len(runs),
        "longest_leaked_run": int(runs.max()) if len(runs) else 0,
        "faces_never_leaked": int((runs == 0).sum()),
        "faces_with_run_ge_5": int((runs >= 5).sum()),
        "leaked_ge_32_frames": {face: frames for face, frames in leaked_large.items() if frames},  # face id -> frames
    }


def over_redaction(clip: Path, lossless: Path, truth: dict) -> dict:
    """Pixels changed outside every annotated face, over all frames of a losslessly written output."""
    changed = outside = 0
    for index, (before, after) in enumerate(zip(frames_rgb(clip), frames_rgb(lossless), strict=True)):
        boxes = np.asarray(truth["annotated"][index], np.float64).reshape(-1, 4)
        frame_changed, frame_outside = metrics.over_redaction(metrics.changed_mask(before, after), boxes)
        changed += frame_changed
        outside += frame_outside
    return {"changed_outside": changed, "outside": outside, "rate": changed / outside if outside else None}


def photo_leak(data: Path) -> dict:
    """veil's photo leak on the distinct images of the clips (hard faces, photo pixel heights) and its
    over-redaction there (all annotated faces excluded)."""
    from benchmarks.tools import VeilTool

    tool = VeilTool()
    tally = {name: [0, 0] for name in [*BAND_NAMES, "all"]}
    changed_outside = outside = 0
    seen = set()
    leaked_faces = []  # ids as in the clips' ground truth: shot * 10000 + the face's index in the image
    for number, shot in enumerate(pick_shots(data)):
        if shot.image.path in seen:
            continue
        seen.add(shot.image.path)
        rgb = cv2.cvtColor(cv2.imread(str(shot.image.path)), cv2.COLOR_BGR2RGB)
        out = tool.run(rgb)
        gray_in, gray_out = metrics.to_gray(rgb), metrics.to_gray(out.image)
        changed = metrics.changed_mask(rgb, out.image)
        for index in np.flatnonzero(shot.image.kept["hard"]):
            box = shot.image.boxes[index]
            leaked = metrics.face_detail(gray_in, gray_out, changed, box).leaked
            if leaked:
                leaked_faces.append(number * 10000 + int(index))
            for name in (metrics.band_of(box[3] - box[1]), "all"):
                tally[name][0] += leaked
                tally[name][1] += 1
        image_changed, image_outside = metrics.over_redaction(changed, shot.image.boxes)
        changed_outside += image_changed
        outside += image_outside
    leak = {k: {"leaked": v[0], "faces": v[1], "rate": v[0] / v[1] if v[1] else None} for k, v in tally.items()}
    return {**leak, "over_redaction": changed_outside / outside, "leaked_faces": leaked_faces}


def face_labels(data: Path) -> dict[int, str]:
    """WIDER's labels, in words, of every face of the clips, by the clips' face id."""
    labels = wider_labels(data)
    return {number * 10000 + i: f"{shot.image.name}: {describe_face(labels.get(shot.image.name), i)}"
            for number, shot in enumerate(pick_shots(data)) for i in range(len(shot.image.boxes))}


def cut_check(path: Path, shot_frames: int | None = None) -> dict:
    """The frames veil takes for cuts (``veil.track.motion.frame_change`` on the reader's grey copies) and
    the histogram distances it compares; ``shot_frames``: the clip cuts every that many frames."""
    from veil.track.motion import frame_change, histogram_distance
    from veil.video import MOTION_SIDE

    cuts, within, across = [], [], []
    previous = None
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            scale = min(1.0, MOTION_SIDE / max(frame.width, frame.height))
            gray = frame.to_ndarray(width=max(2, round(frame.width * scale)), height=max(2, round(frame.height * scale)),
                                    format="gray", interpolation="AREA")
            if previous is not None:
                if frame_change(previous, gray, scale)[1]:
                    cuts.append(index)
                if shot_frames:
                    (across if index % shot_frames == 0 else within).append(histogram_distance(previous, gray))
            previous = gray
    out = {"cuts": cuts}
    if shot_frames:
        out.update(expected=list(range(shot_frames, index + 1, shot_frames)), max_distance_within_shots=max(within),
                   min_distance_at_cuts=min(across))
    return out


def stream_checks(src: Path, out: Path) -> dict:
    def read(path: Path) -> dict:
        with av.open(str(path)) as c:
            video = [(f.pts, f.time) for f in c.decode(video=0)]
            c.seek(0)
            audio = [(p.pts, p.dts, p.duration, hashlib.md5(bytes(p)).hexdigest()) for p in c.demux(audio=0) if p.size]
            return {"video": video, "audio": audio, "tags": dict(c.metadata), "stream_tags": [dict(s.metadata) for s in c.streams]}

    a, b = read(src), read(out)
    return {
        "frames": [len(a["video"]), len(b["video"])],
        "timestamps_equal": [t for _, t in a["video"]] == [t for _, t in b["video"]],
        "audio_packets": [len(a["audio"]), len(b["audio"])],
        "audio_identical": [x[3] for x in a["audio"]] == [x[3] for x in b["audio"]]
        and [x[:3] for x in a["audio"]] == [x[:3] for x in b["audio"]],
        "output_container_tags": b["tags"],
        "output_stream_tags": b["stream_tags"],
    }


SCHEDULE: dict = {}  # Schedule fields that --schedule changes from veil's defaults


def run_veil(src: Path, dst: Path, **encoder) -> tuple[float, dict]:
    from veil.pipeline import Anonymizer
    from veil.video import Schedule, anonymize_video

    anonymizer = Anonymizer()
    start = time.perf_counter()
    record = anonymize_video(src, dst, anonymizer, progress=False, schedule=Schedule(**SCHEDULE), **encoder)
    return time.perf_counter() - start, record


# veil in a process of its own, as the ``veil`` command runs it (start-up, imports and model loading included),
# with the benchmark's schedule: python -c VEIL_PROCESS SRC DST SCHEDULE_JSON
VEIL_PROCESS = """
import json, sys
from veil.pipeline import Anonymizer
from veil.video import Schedule, anonymize_video
anonymize_video(sys.argv[1], sys.argv[2], Anonymizer(), progress=False, schedule=Schedule(**json.loads(sys.argv[3])))
"""


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def throughput(src: Path, work: Path, frames: int, skip_deface: bool, repeats: int) -> dict:
    """Wall time of each tool on ``src``: plain ffmpeg and veil ``repeats`` times each, alternating, and
    deface once; the median of each tool's runs is reported (a 2-core machine shared with others varies by
    10-20% from run to run, plain ffmpeg included)."""
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    deface = shutil.which("deface", path=str(Path(sys.executable).parent)) or "deface"
    plain = [ffmpeg, "-y", "-v", "error", "-i", str(src), "-c:v", "libx264", "-c:a", "copy", str(work / f"{src.stem}.plain.mp4")]
    runs: dict[str, list[float]] = {"plain ffmpeg libx264": []}
    if not skip_deface:
        runs["deface 1.5.0"] = [timed([deface, str(src), "-o", str(work / f"{src.stem}.deface.mp4")])]
    runs["veil"] = []
    for _ in range(repeats):
        runs["plain ffmpeg libx264"].append(timed(plain))
        runs["veil"].append(timed([sys.executable, "-c", VEIL_PROCESS, str(src), str(work / f"{src.stem}.veil.mp4"),
                                   json.dumps(SCHEDULE)]))
    return {name: {"seconds": float(np.median(s)), "fps": frames / float(np.median(s)), "runs_seconds": s}
            for name, s in runs.items()}


def count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def markdown(report: dict) -> str:
    lines = [f"## Video ({report['date']})", "", f"- Command: `{report['command']}`",
             f"- Machine: {report['machine']}; at end {report.get('load_end', '?')}; run time {report['run_seconds'] / 60:.1f} min",
             f"- veil's detection schedule: {report.get('schedule') or 'the defaults'}",
             "- Clips: `benchmarks/video_clips.py`, 10 shots x 32 frames at 25 fps, hard cuts between WIDER val images, "
             "camera panning and zooming (faces always magnified vs the photo), stereo AAC; counted: WIDER hard-set "
             "faces with >= 50% of the box in frame. Leak criterion as in the photo benchmark, per face and frame.", ""]
    lines += ["| clip / tool | fps | " + " | ".join(f"leak {b}" for b in BAND_NAMES) +
              " | leak all | face-frames >= 32 px leaked | longest leaked run (frames) | faces with a run >= 5 | over-redaction |",
              "|---" * (len(BAND_NAMES) + 8) + "|"]
    for name, res in report["leak"].items():
        leak = res["leak"]
        cells = [f"{100 * leak[b]['rate']:.1f}% ({leak[b]['leaked']}/{leak[b]['face_frames']})" if leak[b]["face_frames"] else "-"
                 for b in [*BAND_NAMES, "all"]]
        over = res.get("over_redaction")
        over_cell = f"{100 * over['rate']:.1f}%" if over else "-"
        fps = f"{res['fps']:.2f}" if "fps" in res else "-"
        lines.append(f"| {name} | {fps} | " + " | ".join(cells) + f" | {leak['>=32']['leaked']} | {res['longest_leaked_run']}"
                     f" | {res['faces_with_run_ge_5']} of {res['faces']} | {over_cell} |")
    photo = report["photo_leak"]
    lines += ["", "veil's photo leak on the same images (hard faces, photo heights): " +
              ", ".join(f"{b} {100 * photo[b]['rate']:.1f}% ({photo[b]['leaked']}/{photo[b]['faces']})"
                        for b in [*BAND_NAMES, "all"] if photo[b]["faces"]) +
              f"; photo over-redaction {100 * photo['over_redaction']:.1f}%", ""]
    labels = report.get("face_labels", {})
    for name, res in report["leak"].items():
        for face, frames in res["leaked_ge_32_frames"].items():
            lines.append(f"- {name}: face {face} ({labels.get(face, '?')}) leaked at >= 32 px in frames {frames}")
    lines += [f"- photo path: face {face} ({labels.get(str(face), '?')}) leaked" for face in photo["leaked_faces"]]
    lines.append("")
    same = {name: res["over_redaction"]["same_regions"] for name, res in report["leak"].items() if "over_redaction" in res}
    if same:
        lines += ["Lossless runs for over-redaction redacted the same regions as the default runs: " +
                  ", ".join(f"{name} {value}" for name, value in same.items()), ""]
    lines += ["| stream check (veil output vs input) | " + " | ".join(report["checks"]) + " |",
              "|---" * (len(report["checks"]) + 1) + "|"]
    for key in ("frames", "timestamps_equal", "audio_packets", "audio_identical", "output_container_tags"):
        lines.append(f"| {key} | " + " | ".join(str(c[key]) for c in report["checks"].values()) + " |")
    lines += ["", "| cuts found (no camera motion and grey histogram distance > 0.15) | frames | expected | "
              "largest distance within a shot | smallest distance at a cut |", "|---|---|---|---|---|"]
    for name, cut in report["cuts"].items():
        known = "expected" in cut
        lines.append(f"| {name} | {cut['cuts']} | {cut['expected'] if known else 'not annotated'} | "
                     + (f"{cut['max_distance_within_shots']:.3f} | {cut['min_distance_at_cuts']:.3f} |" if known else "- | - |"))
    if not report["throughput"]:
        return "\n".join(lines)
    lines += ["", "| throughput (same run, wall time; median of the runs) | " + " | ".join(report["throughput"]) + " |",
              "|---" * (len(report["throughput"]) + 1) + "|"]
    tools = list(next(iter(report["throughput"].values())))
    for tool in tools:
        lines.append(f"| {tool} fps | " + " | ".join(f"{r[tool]['fps']:.2f}" for r in report["throughput"].values()) + " |")
    for tool in tools:
        lines.append(f"| {tool} runs (s) | " + " | ".join(
            ", ".join(f"{s:.1f}" for s in r[tool].get("runs_seconds", [r[tool]["seconds"]])) for r in report["throughput"].values()) + " |")
    for tool in tools[:-1]:
        lines.append(f"| veil / {tool} | " + " | ".join(
            f"{r['veil']['fps'] / r[tool]['fps']:.2f}x" for r in report["throughput"].values()) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/veil-video-bench"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--skip-deface", action="store_true", help="leave out deface (slow)")
    parser.add_argument("--quick", action="store_true", help="only veil's leak and over-redaction (no deface, no throughput)")
    parser.add_argument("--schedule", type=json.loads, default={},
                        help='veil.video.Schedule fields as JSON, to compare schedules, e.g. \'{"fine_every": 8}\'')
    parser.add_argument("--repeats", type=int, default=3, help="runs of plain ffmpeg and of veil per clip, alternating (median reported)")
    args = parser.parse_args(argv)
    SCHEDULE.update(args.schedule)
    started = time.perf_counter()
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv]) if argv is None else shlex.join(argv)
    report = {"date": dt.date.today().isoformat(), "command": command, "machine": machine(),
              "schedule": args.schedule, "leak": {}, "checks": {}, "throughput": {}}
    clips = make_clips(args.data, args.work, [720, 1080])
    for height, clip in clips.items():
        truth = json.loads(clip.with_suffix(".json").read_text())
        output = args.work / f"{clip.stem}.veil.mp4"
        seconds, record = run_veil(clip, output)
        lossless = args.work / f"{clip.stem}.veil-lossless.mp4"
        _, lossless_record = run_veil(clip, lossless, crf=0, preset="ultrafast")
        same = [f["regions"] for f in record["frames"]] == [f["regions"] for f in lossless_record["frames"]]
        report["leak"][f"{height}p veil"] = {**score_clip(clip, output, truth), "fps": len(truth["frames"]) / seconds,
                                             "over_redaction": {**over_redaction(clip, lossless, truth), "same_regions": same}}
        report["checks"][f"{height}p clip"] = stream_checks(clip, output)
    report["cuts"] = {f"{height}p clip": cut_check(clip, SHOT_FRAMES) for height, clip in clips.items()}
    report["cuts"].update({path.name: cut_check(path) for path in sorted((args.data / "video_clips").glob("*.mp4"))})
    if args.quick:
        return finish(report, args, started)
    real = args.data / REAL_CLIP
    inputs = {"1080p clip": clips[1080], **({"real 1080p clip": real} if real.is_file() else {})}
    for name, src in inputs.items():
        report["throughput"][name] = throughput(src, args.work, count_frames(src), args.skip_deface, args.repeats)
    if not args.skip_deface:
        truth = json.loads(clips[1080].with_suffix(".json").read_text())
        deface_out = args.work / f"{clips[1080].stem}.deface.mp4"
        report["leak"]["1080p deface"] = {**score_clip(clips[1080], deface_out, truth),
                                          "fps": report["throughput"]["1080p clip"]["deface 1.5.0"]["fps"]}
    return finish(report, args, started)


def finish(report: dict, args: argparse.Namespace, started: float) -> int:
    report["photo_leak"] = photo_leak(args.data)
    report["face_labels"] = {str(face): words for face, words in face_labels(args.data).items()}
    report["run_seconds"] = time.perf_counter() - started
    report["load_end"] = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    publish(report, markdown(report), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
