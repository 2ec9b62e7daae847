#!/usr/bin/env python3
"""Makes the TIFF, HDF5 and FITS fixtures of ImageIOTests with the field's own writers.

Every file holds pixels derived from ONE deterministic 256x256 uint16 image (Gaussian spots on a
background with Poisson noise, seed 20240611), saved as reference.npy; stacks and scans hold
64x64 (32x32) crops of it, saved as stack.npy / scan.npy / small.npy. Run from anywhere:

    python -m venv venv && venv/bin/pip install numpy tifffile imagecodecs h5py hdf5plugin astropy
    venv/bin/python Tests/ImageIOTests/Fixtures/make_c_fixtures.py

The output is deterministic for given package versions (the versions used are in README.md).
"""
import os
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def base_image():
    rng = np.random.default_rng(20240611)
    y, x = np.mgrid[0:256, 0:256].astype(np.float64)
    img = np.full((256, 256), 100.0)
    spots = [(40, 50, 3.0, 20000), (128, 128, 5.0, 50000), (200, 60, 2.0, 8000),
             (70, 190, 4.0, 30000), (220, 220, 2.5, 12000), (20, 230, 1.5, 5000)]
    for cy, cx, s, a in spots:
        img += a * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
    img = rng.poisson(img).astype(np.float64)
    return np.clip(img, 0, 65535).astype(np.uint16)


def path(kind, name):
    d = os.path.join(HERE, kind)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def main():
    ref = base_image()
    # 6 frames of 64x64: crops around the spots, so every frame differs.
    corners = [(8, 18), (96, 96), (168, 28), (38, 158), (188, 188), (0, 192)]
    stack = np.stack([ref[r:r + 64, c:c + 64] for r, c in corners])
    # A 3x4 scan of 32x32 frames: the tiles of ref[0:96, 0:128].
    scan = ref[0:96, 0:128].reshape(3, 32, 4, 32).transpose(0, 2, 1, 3).copy()
    # Values 0..127 that every integer type holds exactly.
    small = (stack[1] // 520).astype(np.uint16)
    assert small.max() <= 127
    rgb = np.stack([(ref >> 8).astype(np.uint8), (ref >> 4 & 0xFF).astype(np.uint8), (ref & 0xFF).astype(np.uint8)], axis=-1)

    np.save(os.path.join(HERE, "reference.npy"), ref)
    np.save(os.path.join(HERE, "stack.npy"), stack)
    np.save(os.path.join(HERE, "scan.npy"), scan)
    np.save(os.path.join(HERE, "small.npy"), small)

    # rgb8*.tif: R = ref >> 8, G = (ref >> 4) & 255, B = ref & 255; the tests compute the
    # luminance 0.299 R + 0.587 G + 0.114 B (in double, rounded to float32) from reference.npy.
    make_tiff(ref, stack, scan, rgb)
    make_fits(ref, stack)
    make_hdf5(ref, stack, scan, small)


def make_tiff(ref, stack, scan, rgb):
    import tifffile
    t = lambda n: path("tiff", n)
    tifffile.imwrite(t("uint16.tif"), ref)
    tifffile.imwrite(t("float32_deflate.tif"), ref.astype(np.float32), compression="zlib")
    tifffile.imwrite(t("float32_deflate_fpred.tif"), ref.astype(np.float32), compression="zlib", predictor=3)
    tifffile.imwrite(t("uint16_lzw_tiled_pred.tif"), ref, compression="lzw", predictor=2, tile=(64, 64))
    tifffile.imwrite(t("uint16_bigtiff_deflate.tif"), ref, bigtiff=True, compression="zlib")
    tifffile.imwrite(t("uint16_packbits.tif"), ref, compression="packbits")
    tifffile.imwrite(t("uint16_zstd.tif"), ref, compression="zstd")
    tifffile.imwrite(t("int32_bigendian_lzw.tif"), ref.astype(np.int32), byteorder=">", compression="lzw")
    tifffile.imwrite(t("float64_deflate_strips.tif"), ref.astype(np.float64), compression="zlib", rowsperstrip=16)
    tifffile.imwrite(t("stack6.tif"), stack)
    tifffile.imwrite(t("stack6_imagej.tif"), stack.reshape(2, 3, 64, 64), imagej=True, metadata={"axes": "TZYX"})
    tifffile.imwrite(t("stack6.ome.tif"), stack, metadata={"axes": "ZYX"})
    tifffile.imwrite(t("rgb8.tif"), rgb, photometric="rgb", compression="zlib")
    tifffile.imwrite(t("rgb8_planar.tif"), rgb.transpose(2, 0, 1).copy(), photometric="rgb", planarconfig="separate", compression="zlib")
    # Unsupported: complex samples (SampleFormat 6).
    tifffile.imwrite(t("complex64.tif"), (stack[0][:8, :8] + 1j).astype(np.complex64))
    # Pages of different shapes: two 64x64 frames, then a 32x32 one.
    with tifffile.TiffWriter(t("mixed_shapes.tif")) as w:
        w.write(stack[0])
        w.write(stack[1])
        w.write(scan[0, 0])


def make_fits(ref, stack):
    from astropy.io import fits
    f = lambda n: path("fits", n)
    fits.PrimaryHDU(ref).writeto(f("uint16_bzero.fits"), overwrite=True)        # BITPIX 16, BZERO 32768
    fits.PrimaryHDU(stack[2].astype(np.float32)).writeto(f("float32.fits"), overwrite=True)  # 64x64
    fits.PrimaryHDU(stack).writeto(f("cube.fits"), overwrite=True)               # NAXIS3 = 6
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(ref.astype(np.int32), compression_type="RICE_1")]
                 ).writeto(f("rice.fits"), overwrite=True)
    # int16 with BLANK, 64x64 = stack[3] // 2: every 7th pixel of row 10 and all of column 50 blank.
    data = (stack[3] // 2).astype(np.int16)
    data[10, ::7] = -32768
    data[:, 50] = -32768
    hdu = fits.PrimaryHDU(data)
    hdu.header["BLANK"] = -32768
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdu.writeto(f("int16_blank.fits"), overwrite=True)
    # Several HDUs: an empty primary, a table, stack[0] as float32, stack[1] as uint16.
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="J", array=np.arange(3))])
    fits.HDUList([fits.PrimaryHDU(), table, fits.ImageHDU(stack[0].astype(np.float32)), fits.ImageHDU(stack[1])]
                 ).writeto(f("multi_hdu.fits"), overwrite=True)


def make_hdf5(ref, stack, scan, small):
    import h5py
    import hdf5plugin
    h = lambda n: path("hdf5", n)
    with h5py.File(h("gzip2d.h5"), "w") as f:
        f.create_dataset("data", data=ref, chunks=(64, 64), compression="gzip")
    for name, root_default in (("nexus.nxs", True), ("nexus_entry_default.nxs", False)):
        with h5py.File(h(name), "w") as f:
            if root_default:
                f.attrs["default"] = "entry"
            entry = f.create_group("entry")
            entry.attrs["NX_class"] = "NXentry"
            entry.attrs["default"] = "data"
            data = entry.create_group("data")
            data.attrs["NX_class"] = "NXdata"
            data.attrs["signal"] = "counts"
            data.create_dataset("counts", data=ref, chunks=(128, 128), compression="gzip")
            det = entry.create_group("instrument/detector")
            det.create_dataset("pixel_mask", data=np.zeros((64, 64), np.uint8), compression="gzip")
    with h5py.File(h("bslz4_stack.h5"), "w") as f:
        f.create_dataset("stack", data=stack, chunks=(2, 64, 64), **hdf5plugin.Bitshuffle(cname="lz4"))
    with h5py.File(h("scan4d.h5"), "w") as f:
        f.create_dataset("scan", data=scan, chunks=(1, 1, 32, 32), compression="gzip")
    with h5py.File(h("two_candidates.h5"), "w") as f:
        f.create_dataset("a", data=stack[0])
        f.create_dataset("b/c", data=stack[1])
        f.create_dataset("axis", data=np.arange(64.0))
    with h5py.File(h("types.h5"), "w") as f:
        for dt in ("u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8", ">u2", ">f8"):
            f.create_dataset("t/" + dt.replace(">", "be_"), data=small.astype(dt), compression="gzip")
        f.create_dataset("complex", data=small.astype(np.complex64))
        f.create_dataset("strings", data=np.array([[b"ab", b"cd"], [b"ef", b"gh"]]))
        f.create_dataset("line", data=np.arange(10))
        f.create_dataset("five_d", data=np.zeros((1, 1, 1, 2, 2), np.uint8))
    with h5py.File(h("userblock.h5"), "w", userblock_size=512) as f:
        f.create_dataset("small", data=small)


if __name__ == "__main__":
    main()
