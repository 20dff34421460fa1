"""Per-job logging: everything a stage prints (progress bars included) goes to its log file."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout


def limit_threads(threads: int) -> None:
    """Use ``threads`` compute threads: torch's setting if it is loaded, else the OpenMP variables
    it reads when it is (stages import torch only when they need it)."""
    threads = max(1, int(threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)


def peak_rss_mib() -> float:
    """The peak resident memory of this process so far, in MiB (the kernel's high-water mark)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


@contextmanager
def job_log(path: str | os.PathLike[str], threads: int = 1) -> Iterator[logging.Logger]:
    """Send stdout, stderr and the ``camrobust`` logger to ``path``; use ``threads`` torch threads.

    A failing stage's traceback ends up in the log as well as on the console. The last line says
    how long the stage took and its peak memory ("peak RSS ... MiB"): exact, where Snakemake's
    ``benchmark:`` files sample the memory every 0.5 s, then every 30 s.
    """
    limit_threads(threads)
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    logger = logging.getLogger("camrobust")
    with open(path, "w", buffering=1) as handle, redirect_stdout(handle), redirect_stderr(handle):
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        started = time.perf_counter()
        try:
            yield logger
        except BaseException:
            logger.exception(
                "stage failed after %.1f s; peak RSS %.1f MiB", time.perf_counter() - started, peak_rss_mib()
            )
            raise
        else:
            logger.info("finished in %.1f s; peak RSS %.1f MiB", time.perf_counter() - started, peak_rss_mib())
        finally:
            logger.removeHandler(handler)
            sys.stdout.flush()
