import numpy as np
import pytest


def spots(shape=(64, 64), n=6, seed=0, noise=0.5, amplitude=(8, 20), sigma=1.6):
    """A float32 image of Gaussian spots on Gaussian noise."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    img = rng.normal(0, noise, size=shape)
    for _ in range(n):
        y, x = rng.uniform(4, h - 4), rng.uniform(4, w - 4)
        img += rng.uniform(*amplitude) * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return img.astype(np.float32)


@pytest.fixture
def image():
    return spots()


@pytest.fixture
def stack():
    return np.stack([spots(seed=s) for s in range(5)])
