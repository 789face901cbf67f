import cv2
import numpy as np
import pytest

from veil.redact.modes import gaussian, gaussian_crop


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("sigma", [2.0, 3.3, 5.0, 12.0])
def test_gaussian_matches_opencv(dtype, sigma):
    rng = np.random.default_rng(0)
    image = rng.integers(0, np.iinfo(dtype).max, (70, 90, 3), endpoint=True).astype(dtype)
    expected = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE)
    got = gaussian(image, sigma)
    assert got.dtype == dtype and got.shape == image.shape
    tolerance = 2 if dtype == np.uint8 else 2 * 257
    assert np.abs(got.astype(np.int64) - expected.astype(np.int64)).max() <= tolerance


def test_gaussian_keeps_single_channel_planes():
    plane = np.random.default_rng(1).integers(0, 255, (40, 50), endpoint=True).astype(np.uint8)
    assert gaussian(plane, 3.0).shape == plane.shape


@pytest.mark.parametrize("samples_per_sigma", [2, 4])
@pytest.mark.parametrize("crop", [(120, 100, 220, 200), (0, 0, 100, 80), (337, 251, 400, 300), (0, 0, 400, 300)],
                         ids=["inside", "corner", "far corner", "whole image"])
def test_shrunk_crop_is_close_to_the_exact_blur(samples_per_sigma, crop):
    """A wide Gaussian on a shrunk copy leaves no more detail than the exact one (smooth image, small error),
    wherever the crop lies (the context is trimmed to a whole shrink factor only away from the crop)."""
    yy, xx = np.mgrid[0:300, 0:400]
    image = np.dstack([(127 + 100 * np.sin(xx / 9.0) * np.cos(yy / 13.0)).astype(np.uint8)] * 3)
    sigma = 16.0
    x1, y1, x2, y2 = crop
    exact = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE)[y1:y2, x1:x2]
    got = gaussian_crop(image, crop, sigma, samples_per_sigma)
    assert got.shape == exact.shape
    # at an image edge the shrunk copy's replicated border is a coarser sample of the edge: a little more error
    assert np.abs(got.astype(int) - exact.astype(int)).mean() < (1.5 if crop[2] < 400 else 2.0)
