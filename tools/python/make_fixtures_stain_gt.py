"""Writes the cross-check fixtures of test/stain.test.ts, test/augment.test.ts and test/groundtruth.test.ts.

Reference implementations: tools/python/macenko_ref.py (Macenko, NumPy), skimage.color.rgb2hed /
hed2rgb, skimage.morphology.binary_erosion, scipy.ndimage.distance_transform_edt, and a plain NumPy
version of the ground-truth modification and of the reference-image histogram distance. Fixtures
store only reference OUTPUTS and crop windows; the tests read the inputs from the MoNuSeg folder.

Run:  VENV=$(bash scripts/setup-tools-venv.sh); $VENV/bin/python tools/python/make_fixtures_stain_gt.py [DATA_DIR]
"""

import gzip
import json
import os
import sys
import warnings

import numpy as np
from scipy import ndimage as ndi
from skimage import io, morphology
from skimage.color import hed2rgb, rgb2hed

sys.path.insert(0, os.path.dirname(__file__))
import macenko_ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data", "monuseg")
OUT = os.path.join(ROOT, "test", "fixtures", "stain-gt")
warnings.filterwarnings("ignore", category=FutureWarning)


def image(slide):
    return macenko_ref.read_rgb(os.path.join(DATA, "images", slide + ".tif"))


def labels(slide):
    return io.imread(os.path.join(DATA, "labels", slide + ".png")).astype(np.int32)


def write_gz(name, arr):
    # mtime 0 keeps the bytes reproducible across runs.
    with open(os.path.join(OUT, name), "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(np.ascontiguousarray(arr).tobytes())
    return name


def write_bits(name, mask):
    return write_gz(name, np.packbits(mask.astype(np.uint8).ravel()))


def window(a, w):
    x, y, cw, ch = w
    return a[y : y + ch, x : x + cw]


# --- Macenko ----------------------------------------------------------------------------------
def macenko_fixtures():
    target_slide = "TCGA-A7-A13E-01Z-00-DX1"
    he_t, max_c_t = macenko_ref.fit(image(target_slide))
    fits = []
    for slide in ["TCGA-18-5592-01Z-00-DX1", target_slide, "TCGA-DK-A2I6-01A-01-TS1"]:
        he, max_c = macenko_ref.fit(image(slide))
        fits.append({"slide": slide, "stainMatrix": he.T.ravel().tolist(), "maxConc": max_c.tolist()})
    crops = []
    for slide, w in [
        ("TCGA-21-5784-01Z-00-DX1", [400, 400, 192, 192]),
        ("TCGA-DK-A2I6-01A-01-TS1", [300, 500, 192, 192]),
        ("TCGA-G9-6336-01Z-00-DX1", [600, 200, 192, 192]),
    ]:
        src = window(image(slide), w)
        he, max_c = macenko_ref.fit(src)
        out = macenko_ref.normalize(src, he_t, max_c_t)
        name = "macenko_" + slide[:12] + ".u8.gz"
        write_gz(name, out)
        crops.append(
            {"slide": slide, "window": w, "stainMatrix": he.T.ravel().tolist(), "maxConc": max_c.tolist(), "output": name}
        )
    return {
        "params": {"io": 240, "alpha": 1, "beta": 0.15},
        "fits": fits,
        "normalize": {"targetSlide": target_slide, "crops": crops},
    }


# --- HED ----------------------------------------------------------------------------------------
def hed_fixtures():
    slide, w = "TCGA-AR-A1AK-01Z-00-DX1", [500, 500, 128, 128]
    rgb = window(image(slide), w)
    hed = rgb2hed(rgb)
    alpha = np.array([1.1, 0.9, 1.05])
    beta = np.array([0.01, -0.01, 0.005])
    aug = hed2rgb(hed * alpha + beta)
    return {
        "slide": slide,
        "window": w,
        "rgb2hed": write_gz("hed_rgb2hed.f32.gz", hed.astype(np.float32)),
        "roundtrip": write_gz("hed_roundtrip.f32.gz", hed2rgb(hed).astype(np.float32)),
        "alpha": alpha.tolist(),
        "beta": beta.tolist(),
        "augmented": write_gz("hed_augmented.f32.gz", aug.astype(np.float32)),
    }


# --- ground truth ----------------------------------------------------------------------------
def touching(lab):
    """Pixels whose 8-neighbourhood (clipped at the edge) holds another non-zero id: NumPy shifts."""
    h, w = lab.shape
    pad = np.pad(lab, 1, constant_values=0)
    out = np.zeros(lab.shape, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            nb = pad[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
            out |= (nb != 0) & (nb != lab)
    return out & (lab != 0)


def modify(lab, fp, iterations):
    m = (lab > 0) & ~touching(lab)
    for _ in range(iterations):
        m = morphology.binary_erosion(m, fp)
    return m


def per_nucleus_distance(lab):
    out = np.zeros(lab.shape, np.float32)
    for i in np.unique(lab):
        if i == 0:
            continue
        m = lab == i
        d = ndi.distance_transform_edt(m)
        out[m] = d[m] / d[m].max()
    return out


def best_window(lab, size):
    """The size x size window (on a size/2 grid) with the most touching-border pixels."""
    t = touching(lab)
    best, best_n = None, -1
    for y in range(0, lab.shape[0] - size + 1, size // 2):
        for x in range(0, lab.shape[1] - size + 1, size // 2):
            n = int(t[y : y + size, x : x + size].sum())
            if n > best_n:
                best, best_n = [x, y, size, size], n
    return best


def gt_fixtures():
    items = []
    for slide in ["TCGA-A7-A13E-01Z-00-DX1", "TCGA-HE-7128-01Z-00-DX1"]:
        full = labels(slide)
        w = best_window(full, 256)
        lab = window(full, w)
        short = slide[:12]
        items.append(
            {
                "slide": slide,
                "window": w,
                "touchingPixels": int(touching(lab).sum()),
                "edt": write_gz(f"edt_{short}.f32.gz", ndi.distance_transform_edt(lab > 0).astype(np.float32)),
                "erosionDisk2": write_bits(f"erode_disk2_{short}.bits.gz", morphology.binary_erosion(lab > 0, morphology.disk(2))),
                "modifiedDefault": write_bits(f"mod_disk1x1_{short}.bits.gz", modify(lab, morphology.disk(1), 1)),
                "modifiedSquare1x2": write_bits(f"mod_sq1x2_{short}.bits.gz", modify(lab, np.ones((3, 3), bool), 2)),
                "bordersOnly": write_bits(f"mod_borders_{short}.bits.gz", modify(lab, None, 0)),
                "distance": write_gz(f"dist_{short}.f32.gz", per_nucleus_distance(lab)),
            }
        )
    return items


# --- reference image selection --------------------------------------------------------------
def reference_fixtures():
    """Jensen-Shannon divergence (natural log) of nuclei vs background grayscale histograms."""
    out = []
    for slide in ["TCGA-18-5592-01Z-00-DX1", "TCGA-A7-A13E-01Z-00-DX1", "TCGA-B0-5711-01Z-00-DX1", "TCGA-G9-6336-01Z-00-DX1"]:
        rgb = image(slide).astype(np.float64)
        gray = np.floor(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2] + 0.5).astype(np.int64)
        nuc = labels(slide) > 0
        p = np.bincount(gray[nuc], minlength=256) / nuc.sum()
        q = np.bincount(gray[~nuc], minlength=256) / (~nuc).sum()
        m = (p + q) / 2

        def kl(a, b):
            s = a > 0
            return float(np.sum(a[s] * np.log(a[s] / b[s])))

        out.append({"slide": slide, "jensenShannon": 0.5 * kl(p, m) + 0.5 * kl(q, m)})
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {
        "generator": "tools/python/make_fixtures_stain_gt.py",
        "versions": {"numpy": np.__version__, "scipy": __import__("scipy").__version__, "skimage": __import__("skimage").__version__},
        "macenko": macenko_fixtures(),
        "hed": hed_fixtures(),
        "groundtruth": gt_fixtures(),
        "reference": reference_fixtures(),
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1024:.0f} KiB, to {OUT}")


if __name__ == "__main__":
    main()
