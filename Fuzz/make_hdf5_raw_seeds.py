#!/usr/bin/env python3
"""Raw-mode seeds for FuzzHDF5 (Corpus/FuzzHDF5/raw-*.seed): byte 0x80, then a whole file.

- every template of Templates/FuzzHDF5, as is;
- every template with its metadata damaged: two variants, each with 6 bytes outside the raw
  data regions (regions.txt) set from a seeded generator (the superblock, object headers,
  B-trees, heaps and attributes that the template mode never mutates);
- every whole-file HDF5 input in Known/FuzzHDF5* (crashes, leaks, huge allocations, a hang
  in libhdf5 1.10.8 before the metadata probe).

Deterministic; run from anywhere: python3 Fuzz/make_hdf5_raw_seeds.py
"""
import pathlib
import random

here = pathlib.Path(__file__).resolve().parent
templates = here / "Templates" / "FuzzHDF5"
corpus = here / "Corpus" / "FuzzHDF5"


def main():
    regions = {}
    for line in (templates / "regions.txt").read_text().split("\n"):
        f = line.split()
        if len(f) == 3:
            regions.setdefault(f[0], []).append((int(f[1]), int(f[2])))
    for old in corpus.glob("raw-*.seed"):
        old.unlink()
    rng = random.Random(11)
    for name in sorted(regions):
        data = (templates / name).read_bytes()
        (corpus / f"raw-{name}.seed").write_bytes(b"\x80" + data)
        inside = set()
        for o, n in regions[name]:
            inside.update(range(o, o + n))
        metadata = [i for i in range(len(data)) if i not in inside]
        for variant in range(2):
            damaged = bytearray(data)
            for i in rng.sample(metadata, 6):
                damaged[i] = rng.randrange(256)
            (corpus / f"raw-{name}-damaged{variant}.seed").write_bytes(b"\x80" + bytes(damaged))
    for folder in sorted((here / "Known").glob("FuzzHDF5*")):
        for f in sorted(folder.iterdir()):
            (corpus / f"raw-known-{folder.name}-{f.name[:16]}.seed").write_bytes(b"\x80" + f.read_bytes())


if __name__ == "__main__":
    main()
