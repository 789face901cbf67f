"""LFW re-identification attack: how well does each redaction mode and strength hide who someone is?

    .venv/bin/python benchmarks/lfw_attack.py [--data ../shared/data] [--pairs N] [--workers 2] [--json OUT]

Prints a markdown section (date, command, machine, table) for docs/benchmarks.md. Images are read from
``--data`` and never written anywhere.

Protocol. The View 2 pairs of ``lfw_deepfunneled_view2/pairs.txt`` (every fold present in the file, or
``--pairs N`` of them spread evenly over the folds).
Deep-funneled LFW faces sit at the image centre, so the face place is KNOWN: ``FACE_BOX`` is the median
box veil's detector (CenterFace) finds on these images, and both the redaction and the attacker use it;
nothing depends on a detector finding a redacted face. For each setting, image B of every pair is
redacted with ``veil.redact.Redactor`` at that box (default ellipse shape and mask scale 1.3); the
attacker (dlib ResNet, ``veil.audit.reid.Embedder``) embeds the original image A and the redacted image B
at the box and scores the pair by -distance.

- naive attack: original A against redacted B;
- parrot attack: the attacker redacts its reference A the same way first (A' against B); run only where
  the naive AUC is below ``--parrot-below`` (elsewhere the setting is already broken).

Metrics: ROC AUC over all pairs; TAR at FAR = 1% (distance threshold at the 1% quantile of the impostor
pairs); and the share of genuine / impostor pairs under dlib's own match distance 0.6. A setting is at
chance when AUC <= 0.55 and TAR@FAR=1% <= 2%. A clean row (no redaction) is the baseline.
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
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy.stats import rankdata

FACE_BOX = (78.0, 64.0, 174.0, 191.0)  # median CenterFace box on 199 deep-funneled LFW images (250x250)
MATCH_DISTANCE = 0.6
CHANCE_AUC = 0.55
CHANCE_TAR = 0.02


@dataclass(frozen=True)
class Setting:
    name: str
    mode: str | None  # None = no redaction, "deface" = deface 1.5.0's blur, emulated
    strength: float | None = None


SETTINGS = [
    Setting("clean", None),
    Setting("blur 0.05", "blur", 0.05),
    Setting("blur 0.10", "blur", 0.10),
    Setting("blur 0.15", "blur", 0.15),
    Setting("blur 0.20", "blur", 0.20),
    Setting("blur 0.25", "blur", 0.25),
    Setting("pixelate 16", "pixelate", 16),
    Setting("pixelate 12", "pixelate", 12),
    Setting("pixelate 8", "pixelate", 8),
    Setting("pixelate 6", "pixelate", 6),
    Setting("solid", "solid"),
    Setting("deface default (emulated)", "deface"),
]
# The parrot attack only matters where the naive one is at or near chance; above this naive AUC it is
# skipped (the setting is already broken), which keeps a full run within about an hour on 2 cores.
PARROT_BELOW = 0.6


# ----------------------------------------------------------------------------- metrics

def roc_auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """AUC of scores where genuine pairs should score higher (Mann-Whitney U, ties counted half)."""
    scores = np.concatenate([genuine, impostor])
    ranks = rankdata(scores)
    n_pos, n_neg = len(genuine), len(impostor)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float = 0.01) -> float:
    """Share of genuine scores above the threshold that lets at most ``far`` of impostor scores through."""
    impostor = np.sort(impostor)[::-1]
    allowed = int(np.floor(far * len(impostor)))
    threshold = impostor[allowed] if allowed < len(impostor) else -np.inf
    return float(np.mean(genuine > threshold))


# ----------------------------------------------------------------------------- data

def read_pairs(path: Path) -> tuple[list[tuple[str, str, bool]], int]:
    """([(image A, image B, same person)], number of folds) from an LFW pairs.txt."""
    lines = path.read_text().splitlines()
    folds, per_fold = (int(v) for v in lines[0].split())
    pairs = []
    for line in lines[1:]:
        parts = line.split()
        if len(parts) == 3:
            name, i, j = parts
            pairs.append((f"{name}/{name}_{int(i):04d}.jpg", f"{name}/{name}_{int(j):04d}.jpg", True))
        elif len(parts) == 4:
            a, i, b, j = parts
            pairs.append((f"{a}/{a}_{int(i):04d}.jpg", f"{b}/{b}_{int(j):04d}.jpg", False))
    if len(pairs) != 2 * folds * per_fold:
        raise SystemExit(f"{path}: expected {2 * folds * per_fold} pairs, read {len(pairs)}")
    return pairs, folds


# ----------------------------------------------------------------------------- work (in worker processes)

_STATE: dict = {}


def _init(root: str) -> None:
    cv2.setNumThreads(1)
    from veil.audit.reid import Embedder

    _STATE["root"] = Path(root)
    _STATE["embedder"] = Embedder()


def redact(rgb: np.ndarray, setting: Setting) -> np.ndarray:
    from veil.detections import Detections
    from veil.redact import Redactor

    if setting.mode is None:
        return rgb
    box = np.array([FACE_BOX], np.float32)
    if setting.mode == "deface":
        return _deface_blur(rgb, FACE_BOX)
    return Redactor(mode=setting.mode, strength=setting.strength).apply(rgb, Detections(box, np.ones(1)))[0]


def _deface_blur(rgb: np.ndarray, box: tuple[float, float, float, float], mask_scale: float = 1.3) -> np.ndarray:
    """deface 1.5.0's default: box filter of a third of the box size inside the ellipse of the grown box."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    x1, y1, x2, y2 = (int(round(v)) for v in (x1 - w * (mask_scale - 1) / 2, y1 - h * (mask_scale - 1) / 2,
                                               x2 + w * (mask_scale - 1) / 2, y2 + h * (mask_scale - 1) / 2))
    out = rgb.copy()
    roi = out[y1:y2, x1:x2]
    blurred = cv2.blur(roi, (max(1, (x2 - x1) // 3), max(1, (y2 - y1) // 3)))
    mask = np.zeros(roi.shape[:2], np.uint8)
    cv2.ellipse(mask, ((x2 - x1) // 2, (y2 - y1) // 2), ((x2 - x1) // 2, (y2 - y1) // 2), 0, 0, 360, 1, -1)
    roi[mask.astype(bool)] = blurred[mask.astype(bool)]
    return out


def _embed(task: tuple[str, Setting]) -> np.ndarray:
    name, setting = task
    rgb = np.asarray(Image.open(_STATE["root"] / name).convert("RGB"))
    return _STATE["embedder"].embed(redact(rgb, setting), np.array([FACE_BOX]))[0]


def embed_all(pool: Pool, names: list[str], setting: Setting) -> dict[str, np.ndarray]:
    vectors = pool.map(_embed, [(n, setting) for n in names], chunksize=32)
    return dict(zip(names, vectors))


# ----------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--pairs", type=int, default=0,
                        help="use N pairs spread evenly over the folds, half same person (default: all)")
    parser.add_argument("--cache", type=Path, help="folder for embeddings, so an interrupted run resumes")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--parrot-below", type=float, default=PARROT_BELOW,
                        help=f"run the parrot attack where the naive AUC is below this (default {PARROT_BELOW}; 0 = never)")
    parser.add_argument("--settings", nargs="+", help="names of the settings to run (default: all)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    lfw = args.data / "lfw_deepfunneled_view2"
    if not lfw.is_dir():
        raise SystemExit(f"needs {lfw} (the shared evaluation data), which is not present")
    pairs, folds = read_pairs(lfw / "pairs.txt")
    if args.pairs:
        pairs = _spread([p for p in pairs if p[2]], args.pairs // 2) + _spread([p for p in pairs if not p[2]], args.pairs // 2)
    same = np.array([p[2] for p in pairs])
    names_a = sorted({p[0] for p in pairs})
    names_b = sorted({p[1] for p in pairs})
    settings = [s for s in SETTINGS if not args.settings or s.name in args.settings]

    started = time.time()
    rows = []
    with Pool(args.workers, initializer=_init, initargs=(str(lfw / "images"),)) as pool:
        embed = lambda names, setting, role: _cached(args.cache, role, setting, names, lambda: embed_all(pool, names, setting))  # noqa: E731
        clean = embed(sorted(set(names_a) | set(names_b)), SETTINGS[0], "all")
        for setting in settings:
            t0 = time.time()
            b = clean if setting.mode is None else embed(names_b, setting, "b")
            naive = _scores(pairs, clean, b)
            row = {"setting": setting.name, "mode": setting.mode, "strength": setting.strength, **_metrics(naive, same)}
            if setting.mode is not None and row["auc"] < args.parrot_below:
                a = embed(names_a, setting, "a")
                row["parrot"] = _metrics(_scores(pairs, a, b), same)
            row["seconds"] = round(time.time() - t0, 1)
            rows.append(row)
            print(f"{setting.name}: {row}", file=sys.stderr)
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps({"rows": rows, "pairs": len(pairs), "folds": folds}, indent=2))

    report = render(rows, args, folds, len(pairs), time.time() - started)
    print(report)
    return 0


def _spread(items: list, n: int) -> list:
    """``n`` items evenly spaced over the list (so every fold contributes)."""
    if n >= len(items):
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def _cached(folder: Path | None, role: str, setting: Setting, names: list[str], compute) -> dict[str, np.ndarray]:
    """Embeddings from ``folder`` when an earlier run stored them for these names, else computed and stored."""
    path = None if folder is None else folder / f"{setting.name.replace(' ', '_')}-{role}-{len(names)}.npz"
    if path is not None and path.is_file():
        stored = np.load(path)
        if list(stored["names"]) == names:
            return dict(zip(names, stored["vectors"]))
    vectors = compute()
    if path is not None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(path, names=np.array(names), vectors=np.stack([vectors[n] for n in names]))
    return vectors


def _scores(pairs, a: dict, b: dict) -> np.ndarray:
    return -np.array([np.linalg.norm(a[p[0]] - b[p[1]]) for p in pairs])


def _metrics(scores: np.ndarray, same: np.ndarray) -> dict:
    genuine, impostor = scores[same], scores[~same]
    auc = roc_auc(genuine, impostor)
    tar = tar_at_far(genuine, impostor, 0.01)
    return {
        "auc": round(auc, 4),
        "tar_at_far1": round(tar, 4),
        "tar_at_0.6": round(float(np.mean(-genuine < MATCH_DISTANCE)), 4),
        "far_at_0.6": round(float(np.mean(-impostor < MATCH_DISTANCE)), 4),
        "chance": auc <= CHANCE_AUC and tar <= CHANCE_TAR,
    }


def render(rows: list[dict], args, folds: int, n_pairs: int, seconds: float) -> str:
    from importlib.metadata import version

    command = "python benchmarks/lfw_attack.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [
        "## LFW re-identification attack",
        "",
        f"- date: {dt.date.today().isoformat()}",
        f"- command: `{command.strip()}`",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {args.workers} worker processes; "
        f"Python {platform.python_version()}, dlib {version('dlib-bin')}; {seconds / 60:.0f} min",
        f"- data: LFW deep-funneled View 2, folds 1-{folds} of pairs.txt ({n_pairs} pairs, half same person)",
        f"- redaction at the known face box {tuple(int(v) for v in FACE_BOX)} of each 250x250 image B; ellipse, "
        "mask scale 1.3; blur strength = Gaussian sigma / face width, pixelate strength = blocks across the face",
        "- attacker: dlib ResNet 128-d at the same known box (never a detector); naive = original A vs redacted B; "
        "parrot = A redacted the same way vs redacted B",
        f"- at chance: AUC <= {CHANCE_AUC} and TAR@FAR=1% <= {CHANCE_TAR:.0%}",
        "",
        "| setting | AUC | TAR@FAR=1% | TAR at d<0.6 | FAR at d<0.6 | parrot AUC | parrot TAR@FAR=1% | at chance (naive / parrot) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r.get("parrot")
        lines.append(
            f"| {r['setting']} | {r['auc']:.3f} | {r['tar_at_far1']:.1%} | {r['tar_at_0.6']:.1%} | {r['far_at_0.6']:.1%} | "
            + (f"{p['auc']:.3f} | {p['tar_at_far1']:.1%} | " if p else "– | – | ")
            + f"{'yes' if r['chance'] else 'no'} / {('yes' if p['chance'] else 'no') if p else '–'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
