#!/usr/bin/env bash
# Install camrobust (editable, without dependencies: the conda env provides them) into the active
# environment. Run from the repository root, or set CAMROBUST_ROOT to it.
set -euo pipefail
root="${CAMROBUST_ROOT:-$PWD}"
if ! grep -q '^name = "camrobust"' "$root/pyproject.toml" 2>/dev/null; then
    echo "install_camrobust.sh: no camrobust sources in '$root'; start snakemake from the" \
        "repository root or set CAMROBUST_ROOT to it" >&2
    exit 1
fi
python -m pip install --no-deps --no-build-isolation --editable "$root"
