"""Validate a batch file and split it into typed accepted rows and quarantined rows.

A batch that cannot be read at all (missing file, empty file, wrong header) raises
BatchValidationError. A readable batch never raises because of a bad row: the row goes to
quarantine with its line number and the reason, so accepted + quarantined = rows read.
"""

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.schema import (
    INPUT_COLUMNS,
    LABEL_COLUMN,
    ROW_ID_COLUMN,
    TIME_COLUMN,
)

logger = logging.getLogger(__name__)

QUARANTINE_COLUMNS = ["row_id", "column", "value", "reason", "line"]
LABEL_TEXT = {"0": 0, "1": 1, "0.0": 0, "1.0": 1}


class BatchValidationError(ValueError):
    """A batch file cannot be used at all; the message names the file and the fix."""


@dataclass
class ValidatedBatch:
    """Result of validating one file."""

    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    report: dict = field(default_factory=dict)


def read_header(path: Path, reader) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise BatchValidationError(
            f"{path}: the file is empty; expected a header line with the columns "
            f"{', '.join(INPUT_COLUMNS)}. Replace it with the full batch file."
        ) from None
    return [name.strip().strip('"').strip() for name in header]


def check_header(path: Path, header: list[str], require_label: bool) -> None:
    expected = INPUT_COLUMNS if require_label else INPUT_COLUMNS[:-1]
    missing = [name for name in expected if name not in header]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if len(header) == 1 and header[0].count(";") >= len(expected) - 1:
        raise BatchValidationError(
            f"{path}, line 1 (header): the fields are separated by ';'. "
            "Batch files must be comma-separated CSV; re-export the file with ','."
        )
    if missing or duplicated:
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if duplicated:
            problems.append(f"duplicated column(s) {', '.join(duplicated)}")
        raise BatchValidationError(
            f"{path}, line 1 (header): {'; '.join(problems)}. Found: {', '.join(header)}. "
            "The file must have the creditcard.csv columns Time, V1..V28, Amount, Class "
            "in its first line; fix the header or re-export the batch."
        )


def read_rows(
    path: Path, require_label: bool = True
) -> tuple[list[str], list[list[str]], list[dict], int]:
    """Read a CSV file as text.

    Returns the header, the rows with as many fields as the header, the others as
    quarantine records, and the number of blank lines (which hold no row).
    """
    if not path.exists():
        raise BatchValidationError(f"{path}: file not found")
    rows, ragged, blank_lines = [], [], 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = read_header(path, reader)
            check_header(path, header, require_label)
            for fields in reader:
                line = reader.line_num
                if not fields:
                    blank_lines += 1
                    continue
                if len(fields) != len(header):
                    ragged.append(
                        {
                            "row_id": line,
                            "column": "",
                            "value": ",".join(fields)[:200],
                            "reason": f"expected {len(header)} fields, found {len(fields)}",
                            "line": line,
                        }
                    )
                    continue
                rows.append([str(line), *fields])
    except UnicodeDecodeError as err:
        raise BatchValidationError(
            f"{path}: not a UTF-8 text file ({err}); export the batch as CSV text"
        ) from err
    except csv.Error as err:
        raise BatchValidationError(
            f"{path}, line {reader.line_num}: unreadable CSV ({err}); "
            "check the quoting on that line"
        ) from err
    return header, rows, ragged, blank_lines


def parse_column(name: str, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Convert one text column; return the values and the reason per invalid row ('' if valid)."""
    stripped = text.str.strip().str.strip('"')
    if name == LABEL_COLUMN:
        values = stripped.map(LABEL_TEXT)
        reason = np.where(values.isna(), "label must be 0 or 1", "")
        return values, pd.Series(reason, index=text.index)

    values = pd.to_numeric(stripped, errors="coerce")
    reason = np.where(
        stripped == "",
        "missing value",
        np.where(values.isna(), "not a number", ""),
    )
    reason = np.where(
        (reason == "") & ~np.isfinite(values.fillna(0.0).to_numpy(dtype=float)),
        "not a finite number",
        reason,
    )
    if name in (TIME_COLUMN, "Amount"):
        reason = np.where((reason == "") & (values < 0), "must not be negative", reason)
    return values, pd.Series(reason, index=text.index)


def validate_file(path: Path, require_label: bool = True) -> ValidatedBatch:
    """Validate a creditcard.csv-layout file.

    The accepted rows have the columns ``row_id`` (line number in the file), ``Time``,
    ``V1``..``V28`` and ``Amount`` as float64, and ``Class`` as int8 when required. They
    are sorted by ``Time``, then ``row_id``. The quarantined rows have ``row_id``,
    ``column``, ``value``, ``reason`` and ``line``. The report contains the counts.
    """
    path = Path(path)
    header, rows, ragged, blank_lines = read_rows(path, require_label)
    columns = [c for c in INPUT_COLUMNS if require_label or c != LABEL_COLUMN]
    text = pd.DataFrame(rows, columns=[ROW_ID_COLUMN, *header], dtype=str)

    parsed = pd.DataFrame({ROW_ID_COLUMN: text[ROW_ID_COLUMN].astype("int64")})
    first_problem = pd.DataFrame(
        index=text.index, columns=["column", "value", "reason"]
    )
    for name in columns:
        values, reason = parse_column(name, text[name])
        parsed[name] = values
        fresh = (reason != "") & first_problem["reason"].isna()
        first_problem.loc[fresh, "column"] = name
        first_problem.loc[fresh, "value"] = text.loc[fresh, name]
        first_problem.loc[fresh, "reason"] = reason[fresh]

    bad = first_problem["reason"].notna()
    quarantined = pd.concat(
        [
            pd.DataFrame(ragged, columns=QUARANTINE_COLUMNS),
            pd.DataFrame(
                {
                    "row_id": parsed.loc[bad, ROW_ID_COLUMN],
                    "column": first_problem.loc[bad, "column"],
                    "value": first_problem.loc[bad, "value"],
                    "reason": first_problem.loc[bad, "reason"],
                    "line": parsed.loc[bad, ROW_ID_COLUMN],
                }
            ),
        ],
        ignore_index=True,
    ).sort_values("row_id", ignore_index=True)

    accepted = parsed.loc[~bad].astype(
        {name: "float64" for name in columns if name != LABEL_COLUMN}
    )
    if require_label:
        accepted = accepted.astype({LABEL_COLUMN: "int8"})
    accepted = accepted.sort_values([TIME_COLUMN, ROW_ID_COLUMN], ignore_index=True)

    ignored = [name for name in header if name not in INPUT_COLUMNS]
    report = {
        "file": str(path),
        "rows_read": len(rows) + len(ragged),
        "rows_accepted": len(accepted),
        "rows_quarantined": len(quarantined),
        "fraud_rows": int(accepted[LABEL_COLUMN].sum()) if require_label else None,
        "blank_lines": blank_lines,
        "duplicate_rows": int(text.duplicated(subset=header).sum()),
        "ignored_columns": ignored,
        "quarantine_reasons": quarantined["reason"].value_counts().to_dict(),
    }
    if report["rows_accepted"] + report["rows_quarantined"] != report["rows_read"]:
        raise RuntimeError(f"{path}: validation lost rows: {report}")
    if ignored:
        logger.warning("%s: ignored extra column(s) %s", path, ", ".join(ignored))
    # NOTE: repeated rows are counted and logged but accepted, since the real file
    # contains exact repeats of genuine transactions.
    if report["duplicate_rows"]:
        logger.warning(
            "%s: %d row(s) repeat an earlier row of the file exactly; they are kept",
            path,
            report["duplicate_rows"],
        )
    if len(quarantined):
        logger.warning(
            "%s: quarantined %d of %d rows (%s)",
            path,
            len(quarantined),
            report["rows_read"],
            report["quarantine_reasons"],
        )
    if accepted.empty:
        logger.warning("%s: no row passed validation", path)
    return ValidatedBatch(accepted=accepted, quarantined=quarantined, report=report)
