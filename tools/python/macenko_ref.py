"""NumPy reference for Macenko et al. 2009 stain normalisation (the staintools / torchstain algorithm).

Used by test fixtures and bench/macenko.bench.ts to cross-check src/stain/macenko.ts. Same
conventions as the TypeScript version: OD = -ln((I + 1) / Io); tissue = OD >= beta in all
channels; eigh of np.cov; alpha / 100 - alpha angle percentiles; the extreme vector with the
larger red OD is H (the max-angle one on a tie); least-squares concentrations with lstsq;
99th-percentile maxC; output clipped to [0, 255] and rounded (torchstain sets > 255 to 254 and
truncates; this is the one place where we deliberately differ, and both sides here do the same).

Usage:
  macenko_ref.py fit IMAGE                       -> JSON {stainMatrix, maxConc}
  macenko_ref.py normalize IMAGE REFERENCE OUT   -> writes OUT (PNG)
  macenko_ref.py bench IMAGE REFERENCE [--repeat N] -> JSON timings in ms (fit, normalize)
"""

import json
import sys
import time

import numpy as np


def read_rgb(path):
    if path.lower().endswith((".tif", ".tiff")):
        import tifffile

        img = tifffile.imread(path)
    else:
        from skimage import io

        img = io.imread(path)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def fit(img, io=240, alpha=1, beta=0.15):
    """Returns (HE 3x2 with columns H, E; maxC of length 2)."""
    rgb = img.reshape((-1, 3)).astype(np.float64)
    od = -np.log((rgb + 1) / io)
    od_hat = od[~np.any(od < beta, axis=1)]
    if od_hat.shape[0] < 3:
        raise ValueError("too few tissue pixels")
    _, eigvecs = np.linalg.eigh(np.cov(od_hat.T))
    t_hat = od_hat.dot(eigvecs[:, 1:3])
    phi = np.arctan2(t_hat[:, 1], t_hat[:, 0])
    min_phi = np.percentile(phi, alpha)
    max_phi = np.percentile(phi, 100 - alpha)
    v_min = eigvecs[:, 1:3].dot(np.array([(np.cos(min_phi), np.sin(min_phi))]).T)
    v_max = eigvecs[:, 1:3].dot(np.array([(np.cos(max_phi), np.sin(max_phi))]).T)
    if v_min[0, 0] > v_max[0, 0]:
        he = np.array((v_min[:, 0], v_max[:, 0])).T
    else:
        he = np.array((v_max[:, 0], v_min[:, 0])).T
    c = np.linalg.lstsq(he, od.T, rcond=None)[0]
    max_c = np.array([np.percentile(c[0, :], 99), np.percentile(c[1, :], 99)])
    return he, max_c


def normalize(img, he_ref, max_c_ref, io=240, alpha=1, beta=0.15):
    h, w, _ = img.shape
    he, max_c = fit(img, io, alpha, beta)
    od = -np.log((img.reshape((-1, 3)).astype(np.float64) + 1) / io)
    c = np.linalg.lstsq(he, od.T, rcond=None)[0]
    c2 = c / (max_c / max_c_ref)[:, np.newaxis]
    out = io * np.exp(-he_ref.dot(c2))
    out = np.rint(np.clip(out, 0, 255))
    return out.T.reshape((h, w, 3)).astype(np.uint8)


def main(argv):
    cmd = argv[1]
    if cmd == "fit":
        he, max_c = fit(read_rgb(argv[2]))
        print(json.dumps({"stainMatrix": he.T.ravel().tolist(), "maxConc": max_c.tolist()}))
    elif cmd == "normalize":
        he_ref, max_c_ref = fit(read_rgb(argv[3]))
        out = normalize(read_rgb(argv[2]), he_ref, max_c_ref)
        from skimage import io

        io.imsave(argv[4], out, check_contrast=False)
    elif cmd == "bench":
        repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 3
        img, ref = read_rgb(argv[2]), read_rgb(argv[3])
        fit_ms, norm_ms = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            he_ref, max_c_ref = fit(ref)
            t1 = time.perf_counter()
            normalize(img, he_ref, max_c_ref)
            t2 = time.perf_counter()
            fit_ms.append((t1 - t0) * 1000)
            norm_ms.append((t2 - t1) * 1000)
        print(json.dumps({"fitMs": min(fit_ms), "normalizeMs": min(norm_ms), "repeat": repeat, "numpy": np.__version__}))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
