#!/usr/bin/env python3
"""Seed corpora for FuzzTIFF and FuzzFITS, templates for FuzzHDF5: tiny valid files (run with the venv of
Tests/ImageIOTests/Fixtures/make_c_fixtures.py)."""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def out(target, name, folder="Corpus"):
    d = os.path.join(HERE, folder, target)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def main():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4000, (8, 8)).astype(np.uint16)
    s = rng.integers(0, 4000, (3, 8, 8)).astype(np.uint16)
    import tifffile
    t = lambda n: out("FuzzTIFF", n)
    tifffile.imwrite(t("u16.tif"), a)
    tifffile.imwrite(t("f32_deflate.tif"), a.astype(np.float32), compression="zlib", predictor=3)
    tifffile.imwrite(t("u16_lzw_tiles.tif"), np.tile(a, (4, 4)), compression="lzw", predictor=2, tile=(16, 16))
    tifffile.imwrite(t("big_packbits.tif"), a, bigtiff=True, compression="packbits")
    tifffile.imwrite(t("stack_zstd.tif"), s, compression="zstd")
    tifffile.imwrite(t("rgb_planar.tif"), (s % 256).astype(np.uint8), photometric="rgb", planarconfig="separate")
    tifffile.imwrite(t("i32_be.tif"), a.astype(np.int32), byteorder=">")
    tifffile.imwrite(t("imagej.tif"), s, imagej=True)
    import h5py
    import hdf5plugin
    # FuzzHDF5 is structure-aware: these are templates (Templates/make_hdf5_templates.c adds
    # the other filters, lists the raw data regions and writes the seeds in Corpus/FuzzHDF5).
    h = lambda n: out("FuzzHDF5", n, "Templates")
    with h5py.File(h("gzip.h5"), "w") as f:
        f.create_dataset("d", data=a, chunks=(4, 4), compression="gzip")
    with h5py.File(h("bslz4.h5"), "w") as f:
        f.create_dataset("s", data=s, chunks=(2, 8, 8), **hdf5plugin.Bitshuffle(cname="lz4"))
    with h5py.File(h("nexus.nxs"), "w") as f:
        f.attrs["default"] = "entry"
        e = f.create_group("entry")
        e.attrs["default"] = "data"
        d = e.create_group("data")
        d.attrs["signal"] = "x"
        d.create_dataset("x", data=a.astype(np.float32))
        e.create_dataset("other", data=a)
    with h5py.File(h("scan.h5"), "w") as f:
        f.create_dataset("scan", data=rng.integers(0, 9, (2, 2, 4, 4)).astype(np.int8))
    from astropy.io import fits
    g = lambda n: out("FuzzFITS", n)
    fits.PrimaryHDU(a).writeto(g("u16.fits"), overwrite=True)
    fits.PrimaryHDU(s.astype(np.float32)).writeto(g("cube_f32.fits"), overwrite=True)
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(a.astype(np.int32), compression_type="RICE_1")]).writeto(g("rice.fits"), overwrite=True)
    b = fits.PrimaryHDU(a.astype(np.int16))
    b.header["BLANK"] = 7
    b.writeto(g("blank.fits"), overwrite=True)


if __name__ == "__main__":
    main()
