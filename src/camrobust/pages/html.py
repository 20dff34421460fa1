"""What every page shares: a self-contained HTML document with one style, tables of a frame,
figures embedded as PNG data, and links into Snakemake's report."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5rem; color: #212121; }
h1 { font-size: 1.35rem; margin: 0 0 .3rem; } h2 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; }
h3 { font-size: 1rem; margin: 1rem 0 .3rem; } p, li { font-size: .9rem; line-height: 1.4; max-width: 70rem; }
.subtitle { color: #616161; font-size: .85rem; margin-bottom: 1rem; }
table.camrobust { border-collapse: collapse; font-size: .8rem; margin: .4rem 0 1rem; }
table.camrobust th, table.camrobust td { border-bottom: 1px solid #e0e0e0; padding: .25rem .6rem; text-align: left;
  vertical-align: top; }
table.camrobust th { background: #f5f5f5; font-weight: 600; }
table.camrobust td.number { font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.best td { font-weight: 600; } .note { color: #757575; }
.verdict { background: #f1f8e9; border-left: 4px solid #7cb342; padding: .4rem .7rem; margin: .3rem 0; }
.verdict.undecided { background: #fff8e1; border-left-color: #ffb300; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
figure { margin: 0; } figcaption { font-size: .8rem; color: #424242; max-width: 30rem; }
"""


def escape(text: object) -> str:
    """``text`` as HTML text."""
    return html.escape(str(text))


def document(title: str, body: str, *, subtitle: str = "") -> str:
    """A complete, self-contained HTML page."""
    sub = f'<p class="subtitle">{escape(subtitle)}</p>' if subtitle else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><h1>{escape(title)}</h1>{sub}\n{body}\n</body></html>\n"
    )


def table(
    frame: pd.DataFrame,
    *,
    header: Mapping[str, str] | None = None,
    numbers: Sequence[str] = (),
    row_classes: Sequence[str] | None = None,
) -> str:
    """The columns of ``frame`` (named by ``header``, all columns by default) as an HTML table;
    ``numbers`` are right-aligned number columns; ``row_classes`` a class per row ("best")."""
    columns = dict(header) if header is not None else {str(column): str(column) for column in frame.columns}
    head = "".join(f"<th>{escape(label)}</th>" for label in columns.values())
    rows = []
    for index, (_, row) in enumerate(frame.iterrows()):
        css = f' class="{row_classes[index]}"' if row_classes is not None and row_classes[index] else ""
        cells = "".join(
            f'<td class="number">{escape(row[column])}</td>' if column in numbers else f"<td>{escape(row[column])}</td>"
            for column in columns
        )
        rows.append(f"<tr{css}>{cells}</tr>")
    return f'<table class="camrobust"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


#: Pictures of images (noise, photographs) are embedded as JPEG at this dpi and quality: a page of
#: pairs stays near 0.3 MB, and the report embeds every page.
JPEG_DPI = 80
JPEG_QUALITY = 80


def data_uri(data: bytes, mime: str) -> str:
    """A ``data:`` URI of the bytes of a file of type ``mime``."""
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def figure_jpeg(figure: Figure) -> bytes:
    """A figure of images as JPEG bytes (:data:`JPEG_DPI`, :data:`JPEG_QUALITY`), tight around its
    labels unless laid out to its exact size (:func:`camrobust.plots.style.tight_bbox`)."""
    from camrobust.plots.style import tight_bbox

    buffer = io.BytesIO()
    pil_kwargs = {"quality": JPEG_QUALITY, "subsampling": 0}
    figure.savefig(buffer, format="jpeg", dpi=JPEG_DPI, pil_kwargs=pil_kwargs, **tight_bbox(figure))
    figure.clear()
    return buffer.getvalue()


def image(data: bytes | Path, alt: str, *, width: str = "") -> str:
    """An embedded <img> of JPEG or PNG bytes, or of a PNG or JPEG file."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    mime = "image/png" if raw.startswith(b"\x89PNG") else "image/jpeg"
    size = f' style="width:{width}"' if width else ""
    return f'<img src="{data_uri(raw, mime)}" alt="{escape(alt)}"{size}>'


def report_link(path: str, text: str) -> str:
    """A link that opens the result ``path`` (relative to the working directory, as in the
    workflow's outputs) in Snakemake's report."""
    return f"<a href=\"javascript:app.showResultInfo('{quote(path, safe='/')}')\">{escape(text)}</a>"
