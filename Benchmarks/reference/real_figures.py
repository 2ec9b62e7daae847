#!/usr/bin/env python3
"""Thumbnails of the Golden/real cases and overlays of peaks' default detections for
docs/real-data.md (numpy only; PNGs written with zlib).

    python3 Benchmarks/reference/real_figures.py [--peaks .build/release/peaks] [--overlays case,case]
"""
import argparse, json, os, struct, subprocess, tempfile, zlib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def png(path, a):
    a = np.ascontiguousarray(a, dtype=np.uint8)
    h, w = a.shape[:2]
    ct = 2 if a.ndim == 3 else 0
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ct, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def stretch(img):
    img = img.astype(float)
    lo, hi = np.percentile(img, 1), np.percentile(img, 99.8)
    x = np.clip((img - lo) / max(hi - lo, 1e-12), 0, 1)
    return (np.arcsinh(10 * x) / np.arcsinh(10) * 255).astype(np.uint8)


def thumb(img, size=96):
    h, w = img.shape
    f = max(1, int(np.ceil(max(h, w) / size)))
    h2, w2 = h // f * f, w // f * f
    return img[:h2, :w2].reshape(h2 // f, f, w2 // f, f).mean((1, 3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peaks", default=os.path.join(ROOT, ".build", "release", "peaks"))
    ap.add_argument("--overlays", default="fluo-nuclei-stardist,fluo-spots-hybiss,astro-m13")
    a = ap.parse_args()
    d = os.path.join(ROOT, "Golden", "real")
    out = os.path.join(ROOT, "docs", "images", "real")
    os.makedirs(out, exist_ok=True)
    for c in sorted(os.listdir(d)):
        if not os.path.isfile(os.path.join(d, c, "image.npy")):
            continue
        img = np.load(os.path.join(d, c, "image.npy")).astype(float)
        png(os.path.join(out, c + ".png"), stretch(thumb(img)))
        if c in a.overlays.split(","):
            t = json.load(open(os.path.join(d, c, "truth.json")))
            with tempfile.TemporaryDirectory() as tmp:
                j = os.path.join(tmp, "p.json")
                subprocess.run([a.peaks, "detect", os.path.join(d, c, "image.npy"), "-o", j], check=True)
                det = [(p["x"], p["y"]) for p in json.load(open(j))["peaks"]]
            g = stretch(img)
            rgb = np.stack([g, g, g], -1).astype(np.uint8)
            h, w = g.shape
            def ring(x, y, r, col):
                for th in np.linspace(0, 2 * np.pi, 48, endpoint=False):
                    xi, yi = int(round(x + r * np.cos(th))), int(round(y + r * np.sin(th)))
                    if 0 <= xi < w and 0 <= yi < h:
                        rgb[yi, xi] = col
            for p in t.get("ignore", []):
                ring(p["x"], p["y"], 3, (90, 90, 255))
            for p in t["peaks"]:
                ring(p["x"], p["y"], 4, (0, 220, 0))
            for x, y in det:
                xi, yi = int(round(x)), int(round(y))
                for k in range(-2, 3):
                    if 0 <= xi + k < w and 0 <= yi < h: rgb[yi, xi + k] = (255, 40, 40)
                    if 0 <= xi < w and 0 <= yi + k < h: rgb[yi + k, xi] = (255, 40, 40)
            png(os.path.join(out, c + "-overlay.png"), rgb)


if __name__ == "__main__":
    main()
