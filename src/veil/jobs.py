"""Planning a run over files and folders: which input goes to which output, never over an input."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from veil.errors import OutputError
from veil.media.atomic import temporary_pattern
from veil.media.image import IMAGE_EXTENSIONS
from veil.media.video import CONTAINERS

VIDEO_EXTENSIONS = frozenset(CONTAINERS)


@dataclass(frozen=True)
class Job:
    source: Path
    destination: Path

    @property
    def kind(self) -> str:
        suffix = self.source.suffix.lower()
        return "video" if suffix in VIDEO_EXTENSIONS else "image" if suffix in IMAGE_EXTENSIONS else "unknown"


@dataclass(frozen=True)
class Plan:
    jobs: list[Job]
    skipped: list[Path]  # files inside given folders that are neither images nor videos


def plan_jobs(inputs: Iterable[Path], output: Path) -> Plan:
    """Map every input file to its output path.

    One file and an output that is not an existing folder: the output is the file's new name.
    Otherwise the output is a folder: a given folder's tree is mirrored under it (under
    ``output/<folder name>`` when several folders are given), a given file lands at ``output/<name>``.
    Raises OutputError when an output would land on or inside an input.
    """
    inputs = [Path(p) for p in inputs]
    for path in inputs:
        if not path.exists():
            raise OutputError(f"{path}: no such file or folder")
    folders = [p for p in inputs if p.is_dir()]
    if len(inputs) == 1 and not folders and not output.is_dir() and not str(output).endswith(os.sep):
        jobs = [Job(inputs[0], output)]
        skipped: list[Path] = []
    else:
        jobs, skipped = [], []
        for path in inputs:
            if path.is_dir():
                base = output if len(folders) == 1 else output / path.resolve().name
                for file in sorted(p for p in path.rglob("*") if p.is_file()):
                    if file.suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS:
                        jobs.append(Job(file, base / file.relative_to(path)))
                    else:
                        skipped.append(file)
            else:
                jobs.append(Job(path, output / path.name))
    _refuse_overlap(inputs, output, jobs)
    return Plan(jobs, skipped)


def _refuse_overlap(inputs: list[Path], output: Path, jobs: list[Job]) -> None:
    resolved_output = output.resolve()
    for path in inputs:
        resolved = path.resolve()
        if path.is_dir() and (resolved_output == resolved or resolved in resolved_output.parents):
            raise OutputError(f"output {output} is inside input folder {path}; veil never writes into its input")
    sources = {job.source.resolve() for job in jobs}
    for job in jobs:
        if job.destination.resolve() in sources:
            raise OutputError(f"output {job.destination} is an input; veil never writes over its input")


def remove_stale_temporaries(destination: Path) -> None:
    """Remove the temporary files a killed run (SIGKILL, power loss) left for ``destination``.

    Only names veil's atomic writer gives: ``.<stem>.<8 random characters>.veil-tmp<suffix>`` beside it.
    """
    for stale in destination.parent.glob(temporary_pattern(destination)):
        stale.unlink(missing_ok=True)
