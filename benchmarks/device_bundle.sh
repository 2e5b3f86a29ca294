#!/usr/bin/env bash
# Builds .whl/: what a bare Python 3.12 x86-64 machine with no package index (the lent 16-core
# device) needs beyond its own packages to run phago on Ray. The Ray wheel is larger than what
# may travel there (64 MiB), so Ray is unpacked, stripped of the libraries phago does not use
# (RLlib, Data, Tune, Train, Serve, LLM, the Java jars, the dashboard's web client) and packed
# as .whl/ray_slim.tar.xz (about 20 MB); benchmarks/device_w3.sh unpacks it into /tmp/site.
# Usage (here, from the repo root, with .whl/ in .git/info/exclude): bash benchmarks/device_bundle.sh
set -euo pipefail
RAY_VERSION=$(.venv/bin/python -c "import ray; print(ray.__version__)")
PLATFORMS="--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p .whl
# shellcheck disable=SC2086
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  $PLATFORMS -d "$WORK/wheels" "ray==$RAY_VERSION" jsonschema jsonschema-specifications referencing \
  rpds-py pypdf
mv "$WORK"/wheels/*.whl .whl/
mkdir "$WORK/ray"
unzip -q .whl/ray-"$RAY_VERSION"-*.whl -d "$WORK/ray"
rm .whl/ray-"$RAY_VERSION"-*.whl
rm -rf "$WORK"/ray/ray/{jars,rllib,data,tune,train,serve,llm,dashboard/client}
tar cf - -C "$WORK/ray" . | xz -9 -T0 > .whl/ray_slim.tar.xz
du -sh .whl
