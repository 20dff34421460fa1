"""What the score tables say: robustness estimates, their summary and the statistical tests.

- :mod:`camrobust.analysis.robustness`: consistency C, responsiveness R and RM per group, with
  bootstrap CIs, and the similarity means beside them;
- :mod:`camrobust.analysis.summary`: the robustness summary of score tables (``robustness.csv``);
- :mod:`camrobust.analysis.stats`: the statistical tests (``results/statistics/*.csv``).
"""
