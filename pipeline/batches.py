"""Cut a creditcard.csv-like source into dated daily batch files.

The source's ``Time`` column counts seconds from its first transaction; a simulated day
is ``hours_per_day`` hours of it. Lines are copied byte for byte, so each batch keeps the
source's quoting and number formatting.
"""

import csv
import logging
import math
from datetime import date, timedelta
from pathlib import Path

from pipeline import layout
from pipeline.schema import TIME_COLUMN
from pipeline.validation import BatchValidationError

logger = logging.getLogger(__name__)


def read_days(
    source: Path, start_date: date, seconds_per_day: float
) -> tuple[str, dict[date, list[str]]]:
    """Return the header line and the source's lines grouped by simulated day."""
    with source.open(newline="", encoding="utf-8-sig") as handle:
        lines = iter(handle)
        try:
            header_line = next(lines)
        except StopIteration:
            raise BatchValidationError(f"{source}: the file is empty") from None
        header = [name.strip().strip('"') for name in next(csv.reader([header_line]))]
        if TIME_COLUMN not in header:
            raise BatchValidationError(
                f"{source}, line 1: no {TIME_COLUMN} column in the header "
                f"({', '.join(header)}); split-days needs the creditcard.csv layout"
            )
        time_index = header.index(TIME_COLUMN)

        by_day: dict[date, list[str]] = {}
        for line_number, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            fields = next(csv.reader([line]))
            try:
                seconds = float(fields[time_index].strip('"'))
            except (IndexError, ValueError):
                raise BatchValidationError(
                    f"{source}, line {line_number}, column {TIME_COLUMN}: "
                    f"invalid value {fields[time_index] if len(fields) > time_index else ''!r}; "
                    "split-days needs a number of seconds on every row"
                ) from None
            if not math.isfinite(seconds):
                raise BatchValidationError(
                    f"{source}, line {line_number}, column {TIME_COLUMN}: "
                    f"invalid value {fields[time_index]!r}; Time must be a finite number"
                )
            if seconds < 0:
                raise BatchValidationError(
                    f"{source}, line {line_number}, column {TIME_COLUMN}: "
                    f"negative value {seconds}; Time counts seconds from the first row"
                )
            day = start_date + timedelta(days=int(seconds // seconds_per_day))
            by_day.setdefault(day, []).append(
                line if line.endswith("\n") else line + "\n"
            )
    return header_line, by_day


def split_days(
    source: Path,
    start_date: date,
    hours_per_day: float,
    overwrite: bool = False,
) -> dict[date, int]:
    """Write one ``incoming/transactions_<date>.csv`` per simulated day of ``source``.

    Returns the number of rows written per date. An existing batch file is left alone
    unless ``overwrite`` is set, because a landed batch may already have been processed.
    """
    if hours_per_day <= 0:
        raise ValueError(f"hours_per_day must be positive, got {hours_per_day}")
    source = Path(source)
    seconds_per_day = hours_per_day * 3600

    try:
        header_line, by_day = read_days(source, start_date, seconds_per_day)
    except UnicodeDecodeError as err:
        raise BatchValidationError(
            f"{source}: not a UTF-8 text file ({err}); export the source as CSV text"
        ) from None

    layout.incoming_dir().mkdir(parents=True, exist_ok=True)
    written = {}
    for day in sorted(by_day):
        target = layout.incoming_path(day)
        if target.exists() and not overwrite:
            logger.info("kept existing batch %s", target)
            continue
        partial = target.with_suffix(".csv.partial")
        with partial.open("w", newline="", encoding="utf-8") as out:
            out.write(header_line if header_line.endswith("\n") else header_line + "\n")
            out.writelines(by_day[day])
        # The landing folder is watched by the pipeline: a batch appears whole or not at all.
        partial.replace(target)
        written[day] = len(by_day[day])
        logger.info("wrote batch %s with %d rows", target, len(by_day[day]))
    return written
