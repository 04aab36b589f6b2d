"""Writes a large, mostly blank Aperio-style slide without holding it in memory.

A sibling of make_test_slide.py for memory tests: the canvas is white except for a few pieces
(raw RGB crops) placed on it, and every page is written tile by tile from a generator, so a
40,000 x 40,000 px slide costs memory for the pieces only. JPEG tiles (a blank one is a few
hundred bytes) keep the file small.

  --width W --height H          level-0 size; divisible by every downsample and by the tile edge
  --piece FILE,X,Y,W,H          a W x H 8-bit RGB raw crop placed at (X, Y); repeatable. X, Y, W, H
                                must be divisible by every downsample (box reductions stay exact)
  --out FILE --levels 1,4,16 --mag 40 --mpp 0.2527 --quality 95 --tile 256
"""

import argparse
import os

import numpy as np
import tifffile

from make_test_slide import aperio_description, box_reduce, jpeg_page


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--piece", action="append", default=[])
    p.add_argument("--out", required=True)
    p.add_argument("--levels", default="1,4,16")
    p.add_argument("--mag", type=float, default=40)
    p.add_argument("--mpp", type=float, default=0.2527)
    p.add_argument("--quality", type=int, default=95)
    p.add_argument("--tile", type=int, default=256)
    a = p.parse_args()
    w, h, t = a.width, a.height, a.tile
    factors = [int(f) for f in a.levels.split(",")]
    if factors[0] != 1:
        raise SystemExit("make_sparse_slide: the first level must have downsample 1")
    pieces = []
    for spec in a.piece:
        f, x, y, pw, ph = spec.split(",")
        x, y, pw, ph = int(x), int(y), int(pw), int(ph)
        raw = np.fromfile(f, dtype=np.uint8)
        if raw.size != pw * ph * 3:
            raise SystemExit(f"make_sparse_slide: {f} holds {raw.size} bytes, expected {pw}x{ph}x3")
        pieces.append((x, y, raw.reshape(ph, pw, 3)))
    for f in factors:
        if w % (f * t) or h % (f * t):
            raise SystemExit(f"make_sparse_slide: {w}x{h} is not divisible by {f} x the tile {t}")
        for x, y, img in pieces:
            if x % f or y % f or img.shape[0] % f or img.shape[1] % f:
                raise SystemExit(f"make_sparse_slide: a piece at {x},{y} is not aligned to the downsample {f}")

    def tiles(f: int, reduced):
        lw, lh = w // f, h // f
        for ty in range(0, lh, t):
            for tx in range(0, lw, t):
                tile = np.full((t, t, 3), 255, dtype=np.uint8)
                for px, py, img in reduced:
                    ph, pw = img.shape[:2]
                    x0, y0 = max(px, tx), max(py, ty)
                    x1, y1 = min(px + pw, tx + t), min(py + ph, ty + t)
                    if x0 < x1 and y0 < y1:
                        tile[y0 - ty : y1 - ty, x0 - tx : x1 - tx] = img[y0 - py : y1 - py, x0 - px : x1 - px]
                yield tile

    tmp = f"{a.out}.tmp-{os.getpid()}"
    with tifffile.TiffWriter(tmp, bigtiff=False) as tif:
        for i, f in enumerate(factors):
            lw, lh = w // f, h // f
            reduced = [(x // f, y // f, box_reduce(img, f)) for x, y, img in pieces]
            desc = aperio_description(i, w, h, lw, lh, t, a.quality, a.mag, a.mpp, "nucleiflow-sparse-slide")
            tif.write(tiles(f, reduced), shape=(lh, lw, 3), dtype=np.uint8, **jpeg_page(i, t, a.quality, desc))
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
