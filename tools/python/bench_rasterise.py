"""Reference for bench/xml-rasterise.bench.ts: MoNuSeg/Aperio XML to an instance label map the way
a Python user would do it, with xml.etree.ElementTree and skimage.draw.polygon (regions in XML
order, first region wins, polygons with < 3 vertices skipped).

skimage.draw.polygon samples pixel centres on 0-based coordinates, not MATLAB poly2mask's 1-based
5x5 sub-pixel rule, so its maps are not the organisers' labels/ (the bench reports by how much).

Usage:
  bench_rasterise.py XML [XML ...] [--size WxH] [--repeat N] [--labels-dir DIR]
  -> JSON {totalMs (best of N, all files: parse + rasterise), rasteriseMs (rasterise only),
           nInstances, skimage, numpy, foregroundDice (vs DIR/<stem>.png, when given)}
"""

import argparse
import json
import os
import time
import xml.etree.ElementTree as ET

import numpy as np
import skimage
from skimage.draw import polygon


def read_polygons(path):
    root = ET.parse(path).getroot()
    polys = []
    for region in root.iter("Region"):
        verts = region.findall("./Vertices/Vertex")
        xs = np.array([float(v.get("X")) for v in verts])
        ys = np.array([float(v.get("Y")) for v in verts])
        polys.append((xs, ys))
    return polys


def rasterise(polys, height, width):
    labels = np.zeros((height, width), dtype=np.int32)
    next_id = 1
    for xs, ys in polys:
        if len(xs) < 3:
            continue
        rr, cc = polygon(ys, xs, shape=(height, width))
        free = labels[rr, cc] == 0
        if np.any(free):
            labels[rr[free], cc[free]] = next_id
            next_id += 1
    return labels, next_id - 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("xml", nargs="+")
    ap.add_argument("--size", default="1000x1000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--labels-dir")
    a = ap.parse_args()
    width, height = (int(v) for v in a.size.lower().split("x"))

    total = float("inf")
    raster = float("inf")
    results = []
    for _ in range(a.repeat):
        t_all = 0.0
        t_ras = 0.0
        results = []
        for path in a.xml:
            t0 = time.perf_counter()
            polys = read_polygons(path)
            t1 = time.perf_counter()
            labels, n = rasterise(polys, height, width)
            t2 = time.perf_counter()
            t_all += t2 - t0
            t_ras += t2 - t1
            results.append((path, labels, n))
        total = min(total, t_all * 1000)
        raster = min(raster, t_ras * 1000)

    out = {
        "totalMs": total,
        "rasteriseMs": raster,
        "nInstances": int(sum(n for _, _, n in results)),
        "skimage": skimage.__version__,
        "numpy": np.__version__,
    }
    if a.labels_dir:
        from skimage import io

        inter = 0
        sizes = 0
        for path, labels, _ in results:
            stem = os.path.splitext(os.path.basename(path))[0]
            gt = io.imread(os.path.join(a.labels_dir, stem + ".png")) > 0
            fg = labels > 0
            inter += int(np.count_nonzero(gt & fg))
            sizes += int(np.count_nonzero(gt)) + int(np.count_nonzero(fg))
        out["foregroundDice"] = 2 * inter / sizes
    print(json.dumps(out))


if __name__ == "__main__":
    main()
