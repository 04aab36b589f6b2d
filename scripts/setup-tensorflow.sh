#!/usr/bin/env bash
# Builds @tensorflow/tfjs-node's native addon against the TensorFlow C library shipped inside
# the tensorflow-cpu wheel, because tfjs-node's own install script downloads from a cloud bucket
# that this network cannot reach. Idempotent: every artefact is cached under $NUCLEIFLOW_CACHE and
# a second run only re-links and verifies.
set -euo pipefail

TF_VERSION="${NUCLEIFLOW_TF_VERSION:-2.21.0}"
CACHE="${NUCLEIFLOW_CACHE:-$HOME/.cache/nucleiflow}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PKG="$ROOT/node_modules/@tensorflow/tfjs-node"
TF_DIR="$CACHE/tensorflow/$TF_VERSION"
WHEEL_DIR="$CACHE/wheels"
PYTHON="${PYTHON:-python3}"

step() { printf '\033[1m[setup-tensorflow %s/6]\033[0m %s\n' "$1" "$2"; }
die() { printf '\033[31msetup-tensorflow: %s\033[0m\n' "$1" >&2; exit 1; }

[ -d "$PKG" ] || die "node_modules/@tensorflow/tfjs-node is missing. Run 'npm ci --ignore-scripts' in $ROOT first."
command -v "$PYTHON" >/dev/null || die "python3 is needed to fetch and unpack the tensorflow-cpu wheel (pip download)."

step 1 "tensorflow-cpu==$TF_VERSION wheel (cache: $WHEEL_DIR)"
mkdir -p "$WHEEL_DIR"
WHEEL=$(ls "$WHEEL_DIR"/tensorflow_cpu-"$TF_VERSION"-cp311-*manylinux*x86_64.whl 2>/dev/null | head -n1 || true)
if [ -z "$WHEEL" ]; then
  "$PYTHON" -m pip download --no-deps --only-binary=:all: --progress-bar on \
    --python-version 3.11 --implementation cp \
    --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    "tensorflow-cpu==$TF_VERSION" -d "$WHEEL_DIR" \
    || die "could not download tensorflow-cpu==$TF_VERSION from the Python package index. Check that pip can reach it (pip config list), or place the cp311 manylinux x86_64 wheel in $WHEEL_DIR by hand."
  WHEEL=$(ls "$WHEEL_DIR"/tensorflow_cpu-"$TF_VERSION"-cp311-*manylinux*x86_64.whl | head -n1)
else
  echo "  cached: $(basename "$WHEEL")"
fi

step 2 "extract libtensorflow_cc, libtensorflow_framework and headers (cache: $TF_DIR)"
# The C API headers pull in a few headers from core/platform, tsl and xla/tsl; the rest of the
# 268 MB include tree is C++ internals the addon never sees.
export TF_INCLUDE_ROOTS="tensorflow/c/ tensorflow/core/platform/ tsl/ xla/tsl/"
if [ "$(cat "$TF_DIR/.complete" 2>/dev/null)" != "$TF_INCLUDE_ROOTS" ]; then
  rm -rf "$TF_DIR.partial"
  mkdir -p "$TF_DIR.partial"
  "$PYTHON" - "$WHEEL" "$TF_DIR.partial" <<'PY'
import sys, zipfile, os
wheel, out = sys.argv[1], sys.argv[2]
want_lib = {"tensorflow/libtensorflow_cc.so.2": "lib/libtensorflow_cc.so.2",
            "tensorflow/libtensorflow_framework.so.2": "lib/libtensorflow_framework.so.2"}
inc_roots = tuple("tensorflow/include/" + r for r in os.environ["TF_INCLUDE_ROOTS"].split())
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.infolist() if m.filename in want_lib or m.filename.startswith(inc_roots)]
    total = sum(m.file_size for m in members)
    done = 0; last = -1
    for m in members:
        if m.is_dir():
            continue
        rel = want_lib.get(m.filename) or "include/" + m.filename[len("tensorflow/include/"):]
        dest = os.path.join(out, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(m) as src, open(dest, "wb") as dst:
            while True:
                buf = src.read(1 << 22)
                if not buf:
                    break
                dst.write(buf); done += len(buf)
                pct = done * 100 // total
                if pct != last and pct % 5 == 0:
                    print(f"  {pct:3d}% of {total/1e6:.0f} MB", flush=True); last = pct
missing = [v for v in want_lib.values() if not os.path.exists(os.path.join(out, v))]
if missing:
    sys.exit(f"wheel lacks {missing}")
PY
  printf %s "$TF_INCLUDE_ROOTS" > "$TF_DIR.partial/.complete"
  rm -rf "$TF_DIR"
  mv "$TF_DIR.partial" "$TF_DIR"
else
  echo "  cached"
fi

step 3 "link the library where tfjs-node's binding.gyp looks"
mkdir -p "$PKG/deps/lib"
ln -sfn "$TF_DIR/lib/libtensorflow_cc.so.2" "$PKG/deps/lib/libtensorflow.so"
ln -sfn "$TF_DIR/lib/libtensorflow_cc.so.2" "$PKG/deps/lib/libtensorflow.so.2"
# The addon records the soname libtensorflow_cc.so.2, so that name must resolve through its rpath too.
ln -sfn "$TF_DIR/lib/libtensorflow_cc.so.2" "$PKG/deps/lib/libtensorflow_cc.so.2"
ln -sfn "$TF_DIR/lib/libtensorflow_framework.so.2" "$PKG/deps/lib/libtensorflow_framework.so"
ln -sfn "$TF_DIR/lib/libtensorflow_framework.so.2" "$PKG/deps/lib/libtensorflow_framework.so.2"
rm -rf "$PKG/deps/include"
ln -sfn "$TF_DIR/include" "$PKG/deps/include"

step 4 "native addon"
TFJS_VERSION=$(node -p "require('$PKG/package.json').version")
NAPI=$(node -p "process.versions.napi")
ADDON_CACHE="$CACHE/tfjs-node/$TFJS_VERSION-tf$TF_VERSION-napi$NAPI-$(uname -m)"
BINDING_REL=$(cd "$PKG" && node -e "
  const b = require('@mapbox/node-pre-gyp'); const p = require('./package.json');
  const m = b.find(require.resolve('./package.json'), { napi_build_version: $NAPI });
  console.log(require('path').relative(process.cwd(), m));" 2>/dev/null || true)
[ -n "$BINDING_REL" ] || BINDING_REL="lib/napi-v8/tfjs_binding.node"
if [ -f "$ADDON_CACHE/tfjs_binding.node" ]; then
  echo "  cached: $ADDON_CACHE"
else
  echo "  compiling binding/*.cc against TensorFlow $TF_VERSION (about a minute)"
  NODEDIR="${npm_config_nodedir:-}"
  if [ -z "$NODEDIR" ]; then
    if [ -f /usr/include/node/node_api.h ]; then NODEDIR=/usr; else NODEDIR="$(dirname "$(dirname "$(command -v node)")")"; fi
  fi
  [ -f "$NODEDIR/include/node/node_api.h" ] || die "Node.js headers not found under $NODEDIR/include/node. Set npm_config_nodedir to a folder with include/node/node_api.h."
  (cd "$PKG" && npm_config_nodedir="$NODEDIR" node "$ROOT/node_modules/@mapbox/node-pre-gyp/bin/node-pre-gyp" rebuild --nodedir="$NODEDIR" > "$CACHE/tfjs-node-build.log" 2>&1) \
    || { tail -n 30 "$CACHE/tfjs-node-build.log" >&2; die "compiling the tfjs-node addon failed; full log: $CACHE/tfjs-node-build.log (needs g++, make and python3)."; }
  mkdir -p "$ADDON_CACHE"
  cp "$PKG/$BINDING_REL" "$ADDON_CACHE/tfjs_binding.node.tmp"
  mv "$ADDON_CACHE/tfjs_binding.node.tmp" "$ADDON_CACHE/tfjs_binding.node"
fi

step 5 "install the addon into node_modules"
mkdir -p "$PKG/$(dirname "$BINDING_REL")"
cp "$ADDON_CACHE/tfjs_binding.node" "$PKG/$BINDING_REL"

step 6 "verify the backend"
BACKEND=$(cd "$ROOT" && TF_CPP_MIN_LOG_LEVEL=2 node -e "
  const tf = require('@tensorflow/tfjs-node');
  const y = tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).dataSync();
  if (y[0] !== 2) throw new Error('matMul gave ' + y[0]);
  console.log(tf.getBackend());" 2>&1 | tail -n1) || true
[ "$BACKEND" = "tensorflow" ] || die "tfjs-node loaded backend '$BACKEND' instead of 'tensorflow'. Delete $ADDON_CACHE and rerun 'npm run setup:tf'."
echo "  tf.getBackend() === 'tensorflow' (TensorFlow $TF_VERSION, addon $BINDING_REL)"
