"""Checks NucleiFlow's pixel-edge outlines with GEOS (shapely), an independent geometry engine.

Reads JSON cases {width, height, data (row-major labels), outlines: [{id, polygons}]} from the file named on the
command line and prints one JSON line: how many outlines GEOS finds invalid, how many do not enclose exactly their
label's pixel count, and how many do not rasterise back (pixel centres inside the geometry) to the label's pixels.
"""
import json
import sys

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity


def main() -> None:
    cases = json.load(open(sys.argv[1]))
    outlines = invalid = area_wrong = raster_wrong = 0
    examples = []
    for c in cases:
        w, h = c["width"], c["height"]
        lab = np.asarray(c["data"]).reshape(h, w)
        for o in c["outlines"]:
            outlines += 1
            parts = [Polygon(p[0], p[1:]) for p in o["polygons"]]
            g = parts[0] if len(parts) == 1 else MultiPolygon(parts)
            mask = lab == o["id"]
            if not g.is_valid:
                invalid += 1
                if len(examples) < 3:
                    examples.append(explain_validity(g))
            if abs(g.area - mask.sum()) > 1e-9:
                area_wrong += 1
            # Pixel centres inside the geometry, tested within its bounds (nothing outside them can be inside).
            x0, y0, x1, y1 = (int(v) for v in g.bounds)
            ys, xs = np.mgrid[y0:y1, x0:x1]
            inside = shapely.contains_xy(g, xs + 0.5, ys + 0.5)
            if not (np.array_equal(inside, mask[y0:y1, x0:x1]) and mask[y0:y1, x0:x1].sum() == mask.sum()):
                raster_wrong += 1
    print(json.dumps({"outlines": outlines, "invalid": invalid, "areaWrong": area_wrong,
                      "rasterWrong": raster_wrong, "examples": examples}))


if __name__ == "__main__":
    main()
