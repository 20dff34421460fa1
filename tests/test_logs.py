"""Job logs: what a stage prints goes to its log, which ends with the time and peak memory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

STAGE = """
import os
import numpy as np
from camrobust.logs import job_log, peak_rss_mib

resident = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
with job_log({log!r}):
    print("working")
    block = np.ones(600 * 2**20 // 8)  # 600 MiB, every page touched
print(resident, peak_rss_mib())
"""


def test_log_ends_with_time_and_the_peak_memory_of_the_stage(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "stage.log"
    result = subprocess.run(
        [sys.executable, "-c", STAGE.format(log=str(log))], capture_output=True, text=True, check=True
    )
    resident, after = (float(x) for x in result.stdout.split())
    lines = log.read_text().splitlines()
    assert lines[0] == "working"
    peak = re.search(r"INFO finished in [\d.]+ s; peak RSS ([\d.]+) MiB$", lines[-1])
    assert peak, lines[-1]
    # the array's 600 MiB on top of what was resident; the high-water mark as the kernel has it at
    # exit, which the log rounds to 0.1 MiB
    assert resident + 599 <= float(peak.group(1)) <= round(after, 1)
