"""Writes the image-reader fixtures of test/io.test.ts with encoders independent of sharp/libvips:
tifffile + imagecodecs for the TIFFs (their own LZW, PackBits, Deflate and predictor code), Pillow
for the PNGs. Every file holds the same 37x23 test card (the formulas are repeated in the test), so
the test can check that our reader returns exactly these values.

Run:  VENV=$(bash scripts/setup-tools-venv.sh); $VENV/bin/python tools/python/make_fixtures_io.py
"""

import os

import numpy as np
import tifffile
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "io")
W, H = 37, 23
# 16-bit samples around the rounding points of v * 255 / 65535, then a scramble.
PROBES = [0, 1, 128, 129, 255, 256, 32767, 32768, 65406, 65407, 65534, 65535]


def card() -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    r = (x * 7 + y * 3) & 255
    g = (x * y * 5 + 11) & 255
    b = np.where(x < W / 2, 40, 220)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def card16() -> np.ndarray:
    i = np.arange(W * H * 3, dtype=np.int64)
    v = (i * 2654435761) % 65536
    v[: len(PROBES)] = PROBES
    return v.astype(np.uint16).reshape(H, W, 3)


def alpha() -> np.ndarray:
    return ((np.arange(W * H) * 13) & 255).astype(np.uint8).reshape(H, W)


def tiff(name: str, data: np.ndarray, compression, predictor: bool, **kw) -> None:
    path = os.path.join(OUT, name)
    photometric = "minisblack" if data.ndim == 2 else "rgb"
    tifffile.imwrite(path, data, photometric=photometric, compression=compression,
                     predictor=predictor or None, rowsperstrip=8, **kw)
    page = tifffile.TiffFile(path).pages[0]
    want_pred = 2 if predictor else 1
    assert np.array_equal(page.asarray(), data), name
    assert page.predictor == want_pred, (name, page.predictor)
    print(f"{name}: {page.compression.name}, predictor {page.predictor}, {data.dtype} {data.shape}")


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    rgb = card()
    tiff("rgb-lzw-predictor.tif", rgb, "lzw", True)
    tiff("rgb-lzw.tif", rgb, "lzw", False)
    tiff("rgb-packbits.tif", rgb, "packbits", False)
    tiff("rgb-deflate-predictor.tif", rgb, "zlib", True)
    tiff("rgb-none.tif", rgb, None, False)
    tiff("rgb16-lzw-predictor.tif", card16(), "lzw", True)
    rgba = np.concatenate([rgb, alpha()[..., None]], axis=-1)
    tiff("rgba-lzw.tif", rgba, "lzw", False, extrasamples=["unassalpha"])
    gray = rgb[..., 0]
    tiff("gray-deflate.tif", gray, "zlib", False)
    tiff("gray16-none.tif", gray.astype(np.uint16) * 257, None, False)
    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "rgb.png"))
    Image.fromarray(np.stack([gray, 255 - gray], axis=-1), "LA").save(os.path.join(OUT, "gray-alpha.png"))
    Image.fromarray((np.arange(W * H) % 7).astype(np.uint8).reshape(H, W), "L").save(
        os.path.join(OUT, "labels8.png"))
    print("PNGs: rgb.png, gray-alpha.png, labels8.png")


if __name__ == "__main__":
    main()
