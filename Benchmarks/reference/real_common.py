"""Shared pieces of real_corpus.py and real_peers.py: the peer detectors with their one
parameter rule, a robust noise estimate and a 2-D Gaussian spot fit. Python only; never peaks.

The rule (every peer, every case): the peer is given the case's spot size `sigma` (truth.json
"spot_sigma", px) and one threshold multiplier `k` (rule: k = 3; the oracle sweeps k). Each
threshold is k times a robust noise level (1.4826 * MAD) of the quantity that peer thresholds:

  plm      skimage.feature.peak_local_max on J = G(I, sigma) - G(I, 4 sigma) (band-pass),
           min_distance = max(1, round(sigma)), threshold_abs = k * noise(J), exclude_border=False.
  pfind    photutils.detection.find_peaks on the same J, box_size = 2 max(1, round(sigma)) + 1,
           threshold = k * noise(J), centroid_func = photutils centroid_quadratic (subpixel).
  log      skimage.feature.blob_log on I scaled to [0, 1], min_sigma = max(0.5, sigma/1.5),
           max_sigma = 1.5 sigma, num_sigma = 5, overlap = 0.5, exclude_border = False,
           threshold = k * noise(sigma^2 * -LoG(I01, sigma)).
  dog      skimage.feature.blob_dog, same scale range (sigma_ratio 1.6) and the same threshold.
  dao      photutils DAOStarFinder(fwhm = 2.3548 sigma, threshold = k * std) on I - median,
           (median, std) = astropy sigma_clipped_stats(I, sigma=3), exclude_border = False.
  trackpy  trackpy.locate(I, diameter = 2 ceil(2 sigma) + 1, separation = max(2, 2 sigma),
           threshold = k * noise(bandpass(I, 1, diameter)), minmass = 0, characterize = False).
  cripser  0-dim persistent homology of the superlevel sets of J (cripser.computePH(-J));
           a peak = a class of persistence >= k * noise(J), at its birth pixel.
"""
import math
import time

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import least_squares

PEERS = ["plm", "pfind", "log", "dog", "dao", "trackpy", "cripser"]
RULE_K = 3.0


def noise(a):
    a = np.asarray(a, dtype=float).ravel()
    med = np.median(a)
    return 1.4826 * np.median(np.abs(a - med)) + 1e-12


def bandpass(img, sigma):
    img = np.asarray(img, dtype=float)
    return ndi.gaussian_filter(img, sigma, mode="reflect") - ndi.gaussian_filter(img, 4 * sigma, mode="reflect")


class Peer:
    """Caches the per-image quantities so a threshold sweep is cheap."""

    def __init__(self, img, sigma):
        self.img = np.asarray(img, dtype=float)
        self.sigma = float(sigma)
        self._c = {}

    def _get(self, key, fn):
        if key not in self._c:
            self._c[key] = fn()
        return self._c[key]

    def J(self):
        return self._get("J", lambda: bandpass(self.img, self.sigma))

    def run(self, peer, k):
        t0 = time.perf_counter()
        xy = getattr(self, "_" + peer)(k)
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        return xy, time.perf_counter() - t0

    # --- the peers ---------------------------------------------------------------------
    def _plm(self, k):
        from skimage.feature import peak_local_max
        J = self.J()
        n = self._get("nJ", lambda: noise(J))
        rc = peak_local_max(J, min_distance=max(1, int(round(self.sigma))), threshold_abs=k * n,
                            exclude_border=False)
        return rc[:, ::-1]

    def _pfind(self, k):
        from photutils.centroids import centroid_quadratic
        from photutils.detection import find_peaks
        J = self.J()
        n = self._get("nJ", lambda: noise(J))
        b = 2 * max(1, int(round(self.sigma))) + 1
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = find_peaks(J, threshold=k * n, box_size=b, centroid_func=centroid_quadratic)
        if t is None or len(t) == 0:
            return np.zeros((0, 2))
        x = np.asarray(t["x_centroid"], dtype=float)
        y = np.asarray(t["y_centroid"], dtype=float)
        xp = np.asarray(t["x_peak"], dtype=float)
        yp = np.asarray(t["y_peak"], dtype=float)
        bad = ~np.isfinite(x) | ~np.isfinite(y) | (np.hypot(x - xp, y - yp) > b / 2)
        x[bad], y[bad] = xp[bad], yp[bad]
        return np.column_stack([x, y])

    def _i01(self):
        def f():
            a = self.img
            return (a - a.min()) / max(a.max() - a.min(), 1e-12)
        return self._get("i01", f)

    def _nlog(self):
        return self._get("nlog", lambda: noise(-self.sigma ** 2 * ndi.gaussian_laplace(self._i01(), self.sigma)))

    def _blob_args(self):
        return dict(min_sigma=max(0.5, self.sigma / 1.5), max_sigma=1.5 * self.sigma, overlap=0.5,
                    exclude_border=False)

    def _log(self, k):
        from skimage.feature import blob_log
        b = blob_log(self._i01(), num_sigma=5, threshold=k * self._nlog(), **self._blob_args())
        return b[:, [1, 0]] if len(b) else np.zeros((0, 2))

    def _dog(self, k):
        from skimage.feature import blob_dog
        b = blob_dog(self._i01(), sigma_ratio=1.6, threshold=k * self._nlog(), **self._blob_args())
        return b[:, [1, 0]] if len(b) else np.zeros((0, 2))

    def _dao(self, k):
        import warnings
        from astropy.stats import sigma_clipped_stats
        from photutils.detection import DAOStarFinder

        def stats():
            _, med, std = sigma_clipped_stats(self.img, sigma=3.0)
            return med, std
        med, std = self._get("dstat", stats)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = DAOStarFinder(threshold=k * std, fwhm=2.3548 * self.sigma, exclude_border=False)
            t = f(self.img - med)
        if t is None or len(t) == 0:
            return np.zeros((0, 2))
        return np.column_stack([np.asarray(t["x_centroid"], float), np.asarray(t["y_centroid"], float)])

    def _trackpy(self, k):
        import logging
        import warnings
        import trackpy as tp
        tp.quiet()
        logging.getLogger("trackpy").setLevel(logging.ERROR)
        d = int(2 * math.ceil(2 * self.sigma) + 1)
        nb = self._get("ntp", lambda: noise(tp.preprocessing.bandpass(self.img, 1, d, threshold=-np.inf)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = tp.locate(self.img, d, separation=max(2.0, 2 * self.sigma), threshold=k * nb, minmass=0,
                          characterize=False, engine="python")
        if len(f) == 0:
            return np.zeros((0, 2))
        return np.column_stack([f["x"].to_numpy(float), f["y"].to_numpy(float)])

    def _cripser(self, k):
        J = self.J()
        n = self._get("nJ", lambda: noise(J))

        def ph():
            import cripser
            r = np.asarray(cripser.computePH(np.ascontiguousarray(-J, dtype=np.float64), maxdim=0))
            r = r[r[:, 0] == 0]
            birth = r[:, 1]
            death = np.where(np.isfinite(r[:, 2]), r[:, 2], J.max() - J.min() + (-J).max())
            death = np.minimum(death, -J.min())  # the oldest class dies at the image minimum
            return np.column_stack([death - birth, r[:, 3], r[:, 4]])
        p = self._get("ph", ph)
        keep = p[:, 0] >= k * n
        # cripser reports (i, j) = (row, column) of the birth pixel of a 2-D array.
        return np.column_stack([p[keep, 2], p[keep, 1]])


def gauss_fit(img, x0, y0, s0, half=None):
    """Isotropic 2-D Gaussian + constant by least squares on a (2h+1)^2 window around (x0, y0).
    Returns dict(x, y, sigma, amp, bg, ok)."""
    img = np.asarray(img, dtype=float)
    h = int(half if half is not None else max(2, math.ceil(2 * s0)))
    xi, yi = int(round(x0)), int(round(y0))
    r0, r1 = max(0, yi - h), min(img.shape[0], yi + h + 1)
    c0, c1 = max(0, xi - h), min(img.shape[1], xi + h + 1)
    w = img[r0:r1, c0:c1]
    if w.size < 9:
        return dict(x=x0, y=y0, sigma=s0, amp=0.0, bg=0.0, ok=False)
    yy, xx = np.mgrid[r0:r1, c0:c1]
    bg0 = np.percentile(w, 10)
    a0 = max(img[min(max(yi, 0), img.shape[0] - 1), min(max(xi, 0), img.shape[1] - 1)] - bg0, 1e-6)

    def res(p):
        x, y, s, a, b = p
        return (a * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * s * s)) + b - w).ravel()
    try:
        r = least_squares(res, [x0, y0, s0, a0, bg0], x_scale=[1, 1, 1, max(a0, 1e-6), max(abs(bg0), a0, 1e-6)],
                          bounds=([x0 - h, y0 - h, 0.2, -np.inf, -np.inf], [x0 + h, y0 + h, 4 * h, np.inf, np.inf]))
        x, y, s, a, b = r.x
        ok = bool(r.success) and a > 0 and abs(x - x0) <= max(1.0, s0) and abs(y - y0) <= max(1.0, s0) \
            and 0.3 * s0 <= s <= 3 * s0
        return dict(x=float(x), y=float(y), sigma=float(s), amp=float(a), bg=float(b), ok=ok)
    except Exception:
        return dict(x=x0, y=y0, sigma=s0, amp=0.0, bg=0.0, ok=False)
