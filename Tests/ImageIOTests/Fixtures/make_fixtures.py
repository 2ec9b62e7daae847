#!/usr/bin/env python3
"""Makes the MRC/MIB/DM fixtures of Tests/ImageIOTests and the reference pixels the Swift tests
compare against, as each format's own reader sees them. Rerun it only to change the fixtures;
the tests need no Python.

    python3 -m venv venv && venv/bin/pip install numpy mrcfile rosettasciio
    venv/bin/python Tests/ImageIOTests/Fixtures/make_fixtures.py RSCIIO_DATA

RSCIIO_DATA: the `rsciio/tests/data` folder of a rosettasciio source checkout (its test files are
not in the wheel). Writes, next to each fixture `X`, `X.npy`: every frame as read by the reference
reader, shape (frames, rows, columns), in the stored dtype (RGB: float32 luminance).
`reference.json` in each folder holds the layout and calibration the tests check.

- MRC: written here with mrcfile (reference reader: mrcfile).
- MIB: copied from rosettasciio's test data (reference: rosettasciio's quantumdetector reader, which
  returns rows bottom-up; raw R64 files, which rosettasciio does not read, are decoded here with the
  rule LiberTEM documents: 64-bit big-endian words, elements from the least significant end; 2x2 quad
  chips [4|3|2|1] side by side, chips 3 and 4 rotated by 180 degrees).
- DM: copied from rosettasciio's test data (reference: rosettasciio's digitalmicrograph reader).
"""
import json
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def save_ref(path: Path, frames: np.ndarray):
    np.save(str(path) + ".npy", np.ascontiguousarray(frames))


def make_mrc():
    import mrcfile

    out = HERE / "mrc"
    out.mkdir(exist_ok=True)
    rng = np.random.default_rng(11)
    refs = {}

    def write(name, data, voxel=None, extended=None, byteorder=None):
        path = out / name
        with mrcfile.new(str(path), overwrite=True) as m:
            if byteorder == ">":
                m.header.dtype = m.header.dtype.newbyteorder(">")
                m.header.machst = bytearray((0x11, 0x11, 0, 0))
                m.set_data(data.astype(data.dtype.newbyteorder(">")))
            else:
                m.set_data(data)
            if extended is not None:
                m.set_extended_header(extended)
            if voxel is not None:
                m.voxel_size = voxel
            if data.ndim == 3 and name.endswith(".mrcs"):
                m.set_image_stack()
        with mrcfile.open(str(path), permissive=False) as m:
            d = np.asarray(m.data)
            frames = d.reshape((-1,) + d.shape[-2:])
            save_ref(path, frames.astype(frames.dtype.newbyteorder("=")))
            vs = m.voxel_size
            refs[name] = {
                "width": int(m.header.nx), "height": int(m.header.ny), "frames": int(m.header.nz),
                "mode": int(m.header.mode), "voxel": [float(vs.x), float(vs.y), float(vs.z)],
                "nsymbt": int(m.header.nsymbt),
            }

    write("mode0_int8.mrc", rng.integers(-128, 128, (5, 7)).astype(np.int8), voxel=(1.5, 2.0, 2.5))
    write("mode1_int16.mrc", rng.integers(-32768, 32768, (6, 9)).astype(np.int16), voxel=1.25)
    write("mode2_float32.mrc", rng.normal(0, 1e3, (8, 5)).astype(np.float32))
    write("mode6_uint16.mrc", rng.integers(0, 65536, (4, 11)).astype(np.uint16))
    write("mode12_float16.mrc", rng.normal(0, 100, (7, 6)).astype(np.float16))
    write("stack_float32.mrcs", rng.normal(5, 2, (3, 6, 4)).astype(np.float32), voxel=0.8)
    ext = np.zeros(2, dtype=[("a", "<i4", 10), ("b", "<f4", 10)])
    ext["a"] = 7
    write("extended_int16.mrc", rng.integers(-500, 500, (2, 5, 6)).astype(np.int16), extended=ext)
    write("bigendian_float32.mrc", rng.normal(0, 10, (5, 4)).astype(np.float32), byteorder=">")
    (out / "reference.json").write_text(json.dumps(refs, indent=1, sort_keys=True) + "\n")


def raw_decode(buf: bytes, width: int, height: int, depth: int, quad: bool) -> np.ndarray:
    bits = {1: 1, 6: 8, 12: 16}[depth]
    words = np.frombuffer(buf, dtype=">u8")
    per = 64 // bits
    shifts = (np.arange(per, dtype=np.uint64) * np.uint64(bits))
    vals = (words[:, None] >> shifts) & np.uint64((1 << bits) - 1)
    stored = vals.reshape(height, width)
    if not quad:
        return stored
    cw = width // 4
    out = np.zeros((2 * height, 2 * cw), dtype=stored.dtype)
    out[:height, :cw] = stored[:, 3 * cw:]
    out[:height, cw:] = stored[:, 2 * cw:3 * cw]
    out[height:, :cw] = stored[::-1, cw:2 * cw][:, ::-1]
    out[height:, cw:] = stored[::-1, :cw][:, ::-1]
    return out


def make_mib(data: Path):
    from rsciio.quantumdetector import file_reader

    out = HERE / "mib"
    out.mkdir(exist_ok=True)
    picks = {
        "Merlin_Single_Quad.zip": [
            "Single_1_Frame_CounterDepth_6_Rows_256",
            "Single_1_Frame_CounterDepth_12_Rows_256",
            "Single_1_Frame_CounterDepth_24_Rows_256",
            "Single_9_Frame_CounterDepth_1_Rows_256RAW",
            "Quad_1_Frame_CounterDepth_1_Rows_256RAW",
            "Quad_1_Frame_CounterDepth_6_Rows_256",
        ],
        "Merlin_navigation4x2_signalNx256_ROI.zip": [
            "003_merlin_test_roi_sig256x64_nav4x2_hot_pixel_52x_39y",
        ],
    }
    refs = {}
    for archive, stems in picks.items():
        with zipfile.ZipFile(data / "quantumdetector" / archive) as z:
            for stem in stems:
                for ext in (".mib", ".hdr"):
                    (out / (stem + ext)).write_bytes(z.read(stem + ext))
    for archive, stems in picks.items():
        for stem in stems:
            path = out / (stem + ".mib")
            raw = path.read_bytes()
            fields = raw[:768].decode("ascii", "ignore").split(",")
            hsize, w, h, kind, layout = int(fields[2]), int(fields[4]), int(fields[5]), fields[6], fields[7].strip()
            if kind == "R64":
                depth = int(fields[fields.index("MQ1A") + 3])
                frame_bytes = w * h * {1: 1, 6: 8, 12: 16}[depth] // 8
                n = len(raw) // (hsize + frame_bytes)
                frames = []
                for i in range(n):
                    start = i * (hsize + frame_bytes) + hsize
                    img = raw_decode(raw[start:start + frame_bytes], w, h, depth, layout == "2x2")
                    frames.append(img[::-1])  # bottom-up, as rosettasciio returns processed frames
                frames = np.stack(frames).astype(np.uint8 if depth <= 6 else np.uint16)
                scan = None
            else:
                d = file_reader(str(path))[0]
                arr = np.asarray(d["data"])
                frames = arr.reshape((-1,) + arr.shape[-2:])
                frames = frames.astype(frames.dtype.newbyteorder("="))
                scan = list(arr.shape[:-2]) if arr.ndim == 4 else None
            save_ref(path, frames)
            refs[path.name] = {"frames": int(frames.shape[0]), "height": int(frames.shape[1]),
                               "width": int(frames.shape[2]), "scan_yx": scan, "type": kind}
    (out / "reference.json").write_text(json.dumps(refs, indent=1, sort_keys=True) + "\n")


def make_dm(data: Path):
    from rsciio.digitalmicrograph import file_reader

    out = HERE / "dm"
    out.mkdir(exist_ok=True)
    src = data / "digitalmicrograph"
    files = []
    for code in (1, 2, 3, 6, 7, 9, 10, 11, 12, 14, 23):
        for ext in ("dm3", "dm4"):
            files.append((f"2D/test-{code}.{ext}", f"2D_test-{code}.{ext}"))
    files += [("3D/test-1.dm3", "3D_test-1.dm3"), ("3D/test-1.dm4", "3D_test-1.dm4"),
              ("3D/test-10.dm4", "3D_test-10.dm4"),
              ("test_stackbuilder_imagestack.dm3", "test_stackbuilder_imagestack.dm3"),
              ("2D/test_STEM_image.dm3", "test_STEM_image.dm3")]
    refs = {}
    for rel, name in files:
        shutil.copyfile(src / rel, out / name)
        d = file_reader(str(out / name))[0]
        arr = np.asarray(d["data"])
        if arr.dtype.names:  # RGBA: luminance as peaks defines it
            arr = (0.299 * arr["R"].astype(np.float64) + 0.587 * arr["G"] + 0.114 * arr["B"]).astype(np.float32)
        elif np.iscomplexobj(arr):
            refs[name] = {"unsupported": True}
            continue
        frames = arr.reshape((-1,) + arr.shape[-2:])
        save_ref(out / name, frames.astype(frames.dtype.newbyteorder("=")))
        # rosettasciio's axes are in array order (frames, y, x); DM's own order is x, y, frames.
        axes = [{"scale": float(a["scale"]), "offset": float(a["offset"]), "units": a["units"] or ""}
                for a in d["axes"]][::-1]
        refs[name] = {"frames": int(frames.shape[0]), "height": int(frames.shape[1]),
                      "width": int(frames.shape[2]), "axes": axes}
    (out / "reference.json").write_text(json.dumps(refs, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    make_mrc()
    if data:
        make_mib(data)
        make_dm(data)
