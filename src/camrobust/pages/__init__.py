"""The report's pages: HTML written from the results, one module per page, shared helpers in one.

- :mod:`camrobust.pages.html`: the page skeleton and style, tables, embedded figures, links into
  Snakemake's report;
- :mod:`camrobust.pages.landing`: the report's landing page (the workflow description), the
  headline result per (dataset, model);
- :mod:`camrobust.pages.drilldown`: one (dataset, model, CAM, noise): its most telling pairs;
- :mod:`camrobust.pages.sensitivity`: does the CAM ranking change with the metric's settings?

A page is an HTML report item of its own rule (rules/pages.smk) with a caption; a new page is a
module here, a rule and a caption.
"""
