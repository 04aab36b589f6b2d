"""Writes a whole-slide test image: an Aperio-style (SVS) JPEG-compressed, tiled, pyramidal TIFF.

No whole-slide file can be downloaded where the tests run, so testing/test-slide.ts lays a mosaic of
MoNuSeg images (stain-normalised, blank gaps between them) as raw RGB and hands it to this script.
The first page's ImageDescription begins `Aperio Image Library` and carries `|AppMag = ..|MPP = ..`,
so OpenSlide opens the file as vendor 'aperio' with that objective power and pixel size, one level
per tiled page.

  --raw FILE --width W --height H   the mosaic: W*H*3 bytes, 8-bit RGB interleaved, row-major
  --out FILE                        the slide to write (.svs)
  --base-downsample N               level 0 of the slide is the mosaic reduced N times (1 = as is)
  --levels 1,4,16                   downsample of each page, relative to the slide's level 0
  --mag 40 --mpp 0.2527             AppMag and MPP written into the description
  --generic                         no Aperio description and no resolution tags: a plain tiled pyramidal
                                    TIFF, which OpenSlide opens as 'generic-tiff' with no pixel size
  --quality 95 --tile 256           JPEG quality (YCbCr, chroma not subsampled), tile edge

Reductions are box (area) means, rounded half up; every downsample must divide the image size, so
level sizes and downsamples are exact integers. Run with the tools venv's python
(tifffile + imagecodecs); it writes the file atomically (a temporary name, then a rename).
"""

import argparse
import os

import numpy as np
import tifffile


def box_reduce(img: np.ndarray, f: int) -> np.ndarray:
    if f == 1:
        return img
    h, w, c = img.shape
    if h % f or w % f:
        raise SystemExit(f"make_test_slide: {w}x{h} is not divisible by the downsample {f}")
    s = img.reshape(h // f, f, w // f, f, c).astype(np.uint32).sum(axis=(1, 3))
    n = f * f
    return ((s + n // 2) // n).astype(np.uint8)


def aperio_description(level: int, w: int, h: int, lw: int, lh: int, tile: int, quality: int, mag: float,
                       mpp: float, filename: str) -> str:
    """The ImageDescription of page `level` as an Aperio scanner writes it, trimmed to the fields OpenSlide reads."""
    if level == 0:
        return (
            f"Aperio Image Library v12.0.15 \r\n{w}x{h} [0,0 {w}x{h}] ({tile}x{tile}) "
            f"JPEG/RGB Q={quality}|AppMag = {mag:g}|StripeWidth = {tile}|ScanScope ID = NUCLEIFLOW"
            f"|Filename = {filename}|MPP = {mpp:.4f}"
        )
    return f"Aperio Image Library v12.0.15 \r\n{w}x{h} -> {lw}x{lh} - ({tile}x{tile}) JPEG/RGB Q={quality}"


def jpeg_page(level: int, tile: int, quality: int, description) -> dict:
    """tifffile.write arguments of one pyramid page: JPEG tiles, RGB, page 0 full-resolution, others reduced."""
    return dict(
        tile=(tile, tile),
        compression="jpeg",
        compressionargs={"level": quality},
        photometric="rgb",
        # Full-resolution chroma keeps JPEG's error near 2 grey levels on tissue, so tests can
        # compare reads with the mosaic tightly; scanners' 4:2:0 would double it.
        subsampling=(1, 1),
        description=description,
        metadata=None,
        subfiletype=0 if level == 0 else 1,
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--raw", required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--base-downsample", type=int, default=1)
    p.add_argument("--levels", default="1,4,16")
    p.add_argument("--mag", type=float, default=40)
    p.add_argument("--mpp", type=float, default=0.2527)
    p.add_argument("--generic", action="store_true")
    p.add_argument("--quality", type=int, default=95)
    p.add_argument("--tile", type=int, default=256)
    a = p.parse_args()

    raw = np.fromfile(a.raw, dtype=np.uint8)
    if raw.size != a.width * a.height * 3:
        raise SystemExit(f"make_test_slide: {a.raw} holds {raw.size} bytes, expected {a.width}x{a.height}x3")
    base = box_reduce(raw.reshape(a.height, a.width, 3), a.base_downsample)
    h, w = base.shape[:2]
    factors = [int(f) for f in a.levels.split(",")]
    if factors[0] != 1:
        raise SystemExit("make_test_slide: the first level must have downsample 1")

    tmp = f"{a.out}.tmp-{os.getpid()}"
    with tifffile.TiffWriter(tmp, bigtiff=False) as tif:
        for i, f in enumerate(factors):
            level = box_reduce(base, f)
            lh, lw = level.shape[:2]
            desc = None if a.generic else aperio_description(
                i, w, h, lw, lh, a.tile, a.quality, a.mag, a.mpp, "nucleiflow-test-slide"
            )
            tif.write(level, **jpeg_page(i, a.tile, a.quality, desc))
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
