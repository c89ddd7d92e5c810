"""HTML pieces of the published site: pages, sortable and filterable tables, the footer.

Every page is self-contained and works from ``file://``: inline CSS and one small inline
script, no external resource, nothing fetched. The script sorts a table by a click on a
column header (numbers by their leading value, text alphabetically; again to reverse) and
filters its rows by the text typed above it. A link can carry the state in its fragment,
``#sort=3:desc&filter=boshnas`` (the page's first table: column 3, descending) or
``#problems.sort=0`` (the table with that id), which the page applies when it opens, so a
sorted view can be shared. Numbers sort by their leading value, ``> 100`` (never reached) as
infinite, and missing values (``—``) last either way. Hand-written because a table library would be a
download or a vendored bundle, and the whole behaviour is forty lines.
"""

from __future__ import annotations

import html
import platform
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pandas as pd

from nasbench_txf import __version__

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1500px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 1.6em; }
p.lead { font-size: 1.05em; max-width: 75em; } p { max-width: 90em; }
.scroll { overflow-x: auto; }
table.sortable { border-collapse: collapse; font-size: 0.9em; }
table.sortable th { cursor: pointer; background: #f0f0f0; position: sticky; top: 0; white-space: nowrap; }
table.sortable th[aria-sort=ascending]::after { content: " ▲"; }
table.sortable th[aria-sort=descending]::after { content: " ▼"; }
table.sortable th, table.sortable td, table.leaderboard th, table.leaderboard td {
  padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: right; }
table.leaderboard { border-collapse: collapse; font-size: 0.9em; }
table.sortable td.text { text-align: left; white-space: normal; min-width: 14em; max-width: 48em;
  font-size: 0.85em; overflow-wrap: anywhere; }
table.sortable td.wide { min-width: 40em; }
table.sortable td { white-space: nowrap; }
table.sortable tr.leader td { background: #fff6d5; font-weight: 600; }
input.filter { margin: 0.5em 0; padding: 4px 8px; width: 20em; }
figure { display: inline-block; margin: 1em 1em 1em 0; vertical-align: top; }
img { max-width: 100%; } figure.wide img { max-width: 1400px; } figure.half img { max-width: 700px; }
figcaption { font-size: 0.85em; color: #555; max-width: 700px; }
pre { background: #f4f4f4; padding: 1em; overflow-x: auto; font-size: 0.85em; }
footer { margin-top: 3em; padding-top: 1em; border-top: 1px solid #ccc; font-size: 0.85em; color: #555; }
nav a { margin-right: 1em; }
"""

SCRIPT = r"""
(function () {
  function value(cell, text_column) {
    var text = cell.textContent.trim();
    if (text_column) return text.toLowerCase();
    if (/^>/.test(text)) return Infinity;                       // "> 100 (0/10)": never reached
    var m = text.replace(/\u2212/g, '-').match(/^[≈~]?\s*(-?\d+(\.\d+)?(e[+-]?\d+)?)/i);
    return m ? parseFloat(m[1]) : null;                          // "—", "nan": missing
  }
  function compare(a, b, descending) {
    if (a === null || b === null) return a === b ? 0 : (a === null ? 1 : -1);  // missing last, both ways
    var c = (typeof a === 'number' && typeof b === 'number') ? a - b
          : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
    return descending ? -c : c;
  }
  function sort(table, column, descending) {
    var head = table.tHead.rows[0].cells;
    if (!(column >= 0 && column < head.length)) return;
    var text_column = head[column].getAttribute('data-type') === 'text';
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (x, y) {
      return compare(value(x.cells[column], text_column), value(y.cells[column], text_column), descending);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(head, function (th, i) {
      if (i === column) th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    });
  }
  function filter(table, text) {
    var words = text.toLowerCase().split(/\s+/).filter(Boolean);
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      var row = r.textContent.toLowerCase();
      r.hidden = !words.every(function (w) { return row.indexOf(w) >= 0; });
    });
  }
  function box(table) {
    return document.querySelector('input.filter[data-table="' + table.id + '"]');
  }
  var tables = Array.prototype.slice.call(document.querySelectorAll('table.sortable'));
  tables.forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.addEventListener('click', function () {
        sort(table, i, th.getAttribute('aria-sort') === 'ascending');
      });
    });
    var input = box(table);
    if (input) input.addEventListener('input', function () { filter(table, input.value); });
  });
  // the fragment: sort=COLUMN[:desc] and filter=TEXT for the page's first table,
  // TABLE.sort=… and TABLE.filter=… for the table with that id
  var state = {};
  location.hash.replace(/^#/, '').split('&').forEach(function (part) {
    var at = part.indexOf('=');
    if (at < 0) return;
    try { state[part.slice(0, at)] = decodeURIComponent(part.slice(at + 1)); } catch (e) { /* malformed */ }
  });
  tables.forEach(function (table, index) {
    var prefix = table.id + '.';
    var order = state[prefix + 'sort'] || (index === 0 ? state.sort : undefined);
    var words = state[prefix + 'filter'] || (index === 0 ? state.filter : undefined);
    if (order) {
      var s = order.split(':');
      sort(table, parseInt(s[0], 10), s[1] === 'desc');
    }
    if (words) {
      filter(table, words);
      var input = box(table);
      if (input) input.value = words;
    }
  });
})();
"""


def page(title: str, body: str, footer_html: str, nav: Sequence[tuple[str, str]] = ()) -> str:
    """A whole page: ``body`` (HTML) under the title, the navigation links, the footer."""
    links = "".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for text, href in nav)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"{f'<nav>{links}</nav>' if links else ''}<h1>{html.escape(title)}</h1>{body}{footer_html}"
            f"<script>{SCRIPT}</script></body></html>\n")


def sortable(frame: pd.DataFrame, table_id: str, *, text_columns: Sequence[str] = (), wide_columns: Sequence[str] = (),
             leader: int | None = 0,
             links: Mapping[str, Sequence[str | None]] | None = None, caption: str = "") -> str:
    """``frame`` as a sortable table with a filter box; row ``leader`` highlighted; the cells of
    ``text_columns`` left-aligned and wrapping (those of ``wide_columns`` wide enough for a
    card); ``links[column][i]``: row i's cell links there."""
    text_type = ' data-type="text"'
    head = "".join(f'<th scope="col"{text_type if c in text_columns else ""} '
                   f'title="sort by {html.escape(str(c))}">{html.escape(str(c))}</th>' for c in frame.columns)
    rows = []
    for i, (_, record) in enumerate(frame.iterrows()):
        cells = []
        for column in frame.columns:
            text = html.escape(str(record[column]))
            href = (links or {}).get(column, [None] * len(frame))[i]
            if href:
                text = f'<a href="{html.escape(href)}">{text}</a>'
            kind = ' class="text wide"' if column in wide_columns else ' class="text"' if column in text_columns else ""
            cells.append(f"<td{kind}>{text}</td>")
        mark = ' class="leader"' if i == leader else ""
        rows.append(f"<tr{mark}>{''.join(cells)}</tr>")
    box = (f'<input class="filter" type="search" data-table="{table_id}" placeholder="filter rows…" '
           f'aria-label="filter the rows of the table">')
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f'{box}<div class="scroll"><table class="sortable" id="{table_id}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def figure(src: str, caption: str, kind: str = "half") -> str:
    return (f'<figure class="{kind}"><img src="{html.escape(src)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def footer(benchmarks: Mapping[str, str | None], machines: Sequence[str], run_versions: Sequence[str]) -> str:
    """The package that published, the benchmarks' versions, the machines that ran, the date."""
    bench = "; ".join(f"{html.escape(name)}: {html.escape(version or 'not recorded')}"
                      for name, version in benchmarks.items())
    ran = "; ".join(html.escape(m) for m in dict.fromkeys(machines)) or "not recorded"
    versions = ", ".join(html.escape(v) for v in run_versions) or "not recorded"
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    return (f"<footer>Published by nasbench-txf {html.escape(__version__)} on {today} (Python "
            f"{html.escape(platform.python_version())}). Runs made by nasbench-txf {versions} on: {ran}. "
            f"Benchmark versions — {bench}.</footer>")
