"""veil.redact.steady: blur levels held from frame to frame, never weaker than a face's own box asks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.detections import Detections
from veil.redact import Blur
from veil.redact.steady import SteadyBlur, blur_level, level_sigma
from veil.track.motion import IDENTITY


def faces(*boxes) -> Detections:
    return Detections(np.asarray(boxes, np.float32).reshape(-1, 4), [0.9] * len(boxes))


def needed(blur: Blur, width: float) -> float:
    return max(blur.min_sigma, blur.strength * width)


def test_levels_round_sigma_up_to_powers_of_sqrt2():
    assert blur_level(4.0) == 4 and blur_level(4.01) == 5
    assert np.allclose(level_sigma(blur_level(np.array([2.0, 2.8, 3.0]))), [2.0, 2 * np.sqrt(2), 4.0])


def test_a_face_whose_box_jitters_keeps_one_level():
    blur = Blur()
    steady = SteadyBlur(blur)
    # 4 * sqrt(2) / 0.25 = 22.6 px: the widths jitter across that level boundary
    sigmas = [steady.sigmas(faces([100, 100, 100 + width, 130]), IDENTITY)[0] for width in (23.0, 22.0, 23.0, 21.5, 22.5)]
    assert len(set(sigmas)) == 1
    assert all(s >= needed(blur, 23.0) for s in sigmas)


def test_the_held_level_follows_the_camera():
    steady = SteadyBlur(Blur())
    steady.sigmas(faces([100, 100, 123, 130]), IDENTITY)
    pan = np.array([[1, 0, 40], [0, 1, 0], [0, 0, 1]], np.float64)
    assert steady.sigmas(faces([140, 100, 162, 130]), pan)[0] == level_sigma(blur_level(needed(Blur(), 23.0)))
    assert steady.sigmas(faces([180, 100, 202, 130]), IDENTITY)[0] == level_sigma(blur_level(needed(Blur(), 22.0)))


def test_nothing_is_held_across_a_cut_or_more_than_one_level_up():
    blur = Blur()
    steady = SteadyBlur(blur)
    steady.sigmas(faces([100, 100, 123, 130]), IDENTITY)
    assert steady.sigmas(faces([100, 100, 122, 130]), None)[0] == level_sigma(blur_level(needed(blur, 22.0)))
    steady.sigmas(faces([100, 100, 200, 220]), IDENTITY)  # a large face...
    shrunk = steady.sigmas(faces([100, 100, 150, 160]), IDENTITY)[0]  # ...far smaller in the next frame
    assert shrunk == level_sigma(blur_level(needed(blur, 50.0)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(4, 400), min_size=1, max_size=5), min_size=1, max_size=6))
def test_never_weaker_than_each_box_asks(frames):
    blur = Blur()
    steady = SteadyBlur(blur)
    for widths in frames:
        boxes = [[10.0 * k, 10.0, 10.0 * k + w, 10.0 + w] for k, w in enumerate(widths)]
        sigmas = steady.sigmas(faces(*boxes), IDENTITY)
        assert all(s >= needed(blur, w) - 1e-9 for s, w in zip(sigmas, widths))
        assert all(s <= 2 * needed(blur, w) + 1e-9 for s, w in zip(sigmas, widths))


def test_no_faces():
    steady = SteadyBlur(Blur())
    assert steady.sigmas(Detections(), IDENTITY).shape == (0,)
    assert steady.sigmas(faces([0, 0, 30, 30]), IDENTITY).shape == (1,)
