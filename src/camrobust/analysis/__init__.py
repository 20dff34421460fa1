"""What the score tables say: robustness estimates, their summary, the statistical tests, verdicts.

- :mod:`camrobust.analysis.robustness`: consistency C, responsiveness R and RM per group, with
  bootstrap CIs (none below ``metric.min_n`` images), and the similarity means beside them;
- :mod:`camrobust.analysis.summary`: the robustness summary of score tables (``robustness.csv``);
- :mod:`camrobust.analysis.tables`: its pooled rows with CIs as a headline, Markdown and LaTeX;
- :mod:`camrobust.analysis.bootstrap`: the percentile bootstrap over images every interval uses;
- :mod:`camrobust.analysis.totals`: per-image sums behind C, R and RM, for paired bootstraps;
- :mod:`camrobust.analysis.blocks`: tables of one value per image, the subjects of the tests;
- :mod:`camrobust.analysis.nonparametric`: Friedman, Kendall's W, Nemenyi, Wilcoxon,
  Kruskal-Wallis and Page's L with effect sizes and their CIs;
- :mod:`camrobust.analysis.stats`: the test families (``results/statistics/*.csv``);
- :mod:`camrobust.analysis.verdicts`: which CAM, if any, is the most robust under a noise;
- :mod:`camrobust.analysis.rankings`: CAM rankings compared across measures or settings (tau);
- :mod:`camrobust.analysis.agreement`: RM built from each complementary similarity, like with like;
- :mod:`camrobust.analysis.settings` and :mod:`camrobust.analysis.sensitivity`: the sensitivity
  of the ranking to the metric's own settings;
- :mod:`camrobust.analysis.examples`: the most telling pairs to show.
"""
