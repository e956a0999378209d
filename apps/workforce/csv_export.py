"""`?format=csv` for workforce lists: a DRF renderer writing the rows a view answers as CSV.

Cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) are prefixed with a
quote, numbers stay numbers.
"""

import csv
import io
import re

from rest_framework.renderers import BaseRenderer

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def safe_cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dict | list):
        import json

        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    if PLAIN_NUMBER.fullmatch(text):  # decimal strings such as money ("-0.0500") stay numbers
        return text
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_line(values) -> str:
    """One CSV line of already safe cells (streaming exports write line by line)."""
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()


def rows_to_csv(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = columns or list(dict.fromkeys(key for row in rows for key in row))
    return csv_line(columns) + "".join(csv_line([safe_cell(row.get(column)) for column in columns]) for row in rows)


class CsvRenderer(BaseRenderer):
    """Renders a list of objects, or a page's `results`; an error envelope stays JSON-shaped text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "error" in data:
            import json

            return json.dumps(data).encode()
        rows = data.get("results", []) if isinstance(data, dict) else (data or [])
        columns = (renderer_context or {}).get("csv_columns")  # a view may fix the columns and their order
        return rows_to_csv([row for row in rows if isinstance(row, dict)], columns).encode("utf-8")
