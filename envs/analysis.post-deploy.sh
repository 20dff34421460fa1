#!/usr/bin/env bash
# Snakemake runs this inside the freshly created envs/analysis.yaml env, from its working directory.
exec bash "${CAMROBUST_ROOT:-$PWD}/envs/install_camrobust.sh"
