#!/usr/bin/env python3
"""Reference side of bench/postprocess-metrics.bench.ts: times the NumPy metrics and the
SciPy / scikit-image post-processing chain (Mahbod et al. 2019) on the inputs the TypeScript
bench wrote, best of N repetitions. Usage: bench_postprocess_metrics.py <spec.json>
Prints one JSON line: {"metrics": {name: {"ms", "cpuMs"}}, "postprocess": {name: {"ms", "cpuMs", "steps", "instances"}}, ...}."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import skimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crosscheck_postprocess_metrics import metrics_reference, read_png, skimage_chain  # noqa: E402


def best(fn, reps):
    """Best wall time and best process CPU time in ms over `reps` runs after one warm-up."""
    fn()  # warm-up, as on the TypeScript side
    wall = cpu = float("inf")
    for _ in range(reps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        wall = min(wall, (time.perf_counter() - t0) * 1000)
        cpu = min(cpu, (time.process_time() - c0) * 1000)
    return wall, cpu


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    reps = int(spec.get("reps", 5))
    res = {"metrics": {}, "postprocess": {}}
    for m in spec["metrics"]:
        gt = read_png(Path(m["gt"])).astype(np.int64)
        pred = read_png(Path(m["pred"])).astype(np.int64)
        wall, cpu = best(lambda: metrics_reference(gt, pred), reps)
        res["metrics"][m["name"]] = {"ms": wall, "cpuMs": cpu}
    for c in spec["postprocess"]:
        shape = (c["height"], c["width"])
        prob = np.fromfile(c["prob"], dtype="<f4").reshape(shape)
        dist = np.fromfile(c["dist"], dtype="<f4").reshape(shape)
        ms, cpu = best(lambda: skimage_chain(prob, dist), reps)
        steps: dict = {}
        out = skimage_chain(prob, dist, timings=steps)
        res["postprocess"][c["name"]] = {"ms": ms, "cpuMs": cpu, "steps": steps, "instances": int(out["labels"].max())}
    res["peakRssMB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res["versions"] = {"numpy": np.__version__, "scipy": scipy.__version__, "skimage": skimage.__version__}
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
