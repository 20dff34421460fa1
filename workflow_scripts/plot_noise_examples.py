"""The first image of a dataset, clean and under every model-free noise of the run, as stored."""

import numpy as np

from camrobust import plots
from camrobust.logs import job_log
from camrobust.store import open_store

with job_log(snakemake.log[0], snakemake.threads):
    clean = open_store(snakemake.input.clean)
    examples = {}
    for path in snakemake.input.noisy:
        store = open_store(path)
        severities = [int(s) for s in store["severity"][...]]
        first = np.asarray(store["images"][:1])[0]  # (severity, H, W, 3)
        examples[str(store.attrs["noise"])] = dict(zip(severities, first))
    plots.noise_examples(
        np.asarray(clean["images"][:1])[0],
        examples,
        f"{snakemake.wildcards.dataset}: image {clean['ids'][0]}",
        snakemake.output[0],
    )
