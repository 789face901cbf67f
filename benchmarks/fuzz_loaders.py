"""Fuzz veil's image and video loaders with atheris (coverage-guided, libFuzzer).

    python benchmarks/fuzz_loaders.py image -max_total_time=60
    python benchmarks/fuzz_loaders.py video -runs=2000

Each input is written to a file and opened the way ``veil`` opens it: ``load_image`` (with a 4-Mpx limit,
so a fuzzed header cannot make it allocate gigabytes), or ``VideoSource`` decoding up to 30 frames.
veil's own InvalidInputError is the expected answer to a bad file; any other exception, a crash or a hang
in a decoder is a finding, and libFuzzer saves the input that caused it (crash-*) in the working folder.
The seeds are the fault-and-abuse corpus (tools/make_fault_corpus.py). Needs the ``fuzz`` and ``test`` extras.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():  # veil's code and Pillow's Python plugins; native decoders are not instrumented
    from veil.errors import InvalidInputError
    from veil.media.image import load_image
    from veil.media.video import VideoSource

ROOT = Path(__file__).resolve().parents[1]
MAX_PIXELS = 4_000_000
MAX_FRAMES = 30


def _seeds(kind: str, folder: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_fault_corpus", ROOT / "tools" / "make_fault_corpus.py")
    tool = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = tool
    spec.loader.exec_module(tool)
    everything = folder / "all"
    cases = tool.generate(everything)
    for case in cases:
        if case.kind == kind and (everything / case.name).stat().st_size:
            (everything / case.name).rename(folder / case.name)
    for leftover in everything.iterdir():
        leftover.unlink()
    everything.rmdir()


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("image", "video"):
        sys.exit(__doc__)
    kind = sys.argv.pop(1)
    work = Path(tempfile.mkdtemp(prefix=f"veil-fuzz-{kind}-"))
    seeds = work / "corpus"
    seeds.mkdir()
    _seeds(kind, seeds)
    sample = work / ("input.png" if kind == "image" else "input.mp4")

    def one_input(data: bytes) -> None:
        sample.write_bytes(data)
        try:
            if kind == "image":
                load_image(sample, max_pixels=MAX_PIXELS)
            else:
                with VideoSource(sample) as source:
                    for _, _frame in zip(range(MAX_FRAMES), source.frames()):
                        pass
        except InvalidInputError:
            pass

    print(f"veil fuzz: {kind} loader, seeds and new inputs in {seeds}", file=sys.stderr)
    atheris.Setup([*sys.argv, str(seeds)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
