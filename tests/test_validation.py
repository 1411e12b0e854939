import json

import pandas as pd
import pytest

from pipeline.schema import FEATURE_COLUMNS, INPUT_COLUMNS
from pipeline.validation import BatchValidationError, validate_file

HEADER = ",".join(f'"{name}"' for name in INPUT_COLUMNS)


def row(time="10", amount="12.5", label='"0"', v1="-1.5"):
    values = [time, v1, *["0.25"] * 27, amount, label]
    return ",".join(values)


def write(tmp_path, *lines, name="batch.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_sample_file_loads_with_quoted_header(source_csv):
    batch = validate_file(source_csv)

    assert batch.report["rows_quarantined"] == 0
    assert batch.report["rows_accepted"] == batch.report["rows_read"]
    assert set(batch.accepted["Class"].unique()) == {0, 1}
    assert batch.accepted["Class"].dtype == "int8"
    assert all(batch.accepted[name].dtype == "float64" for name in FEATURE_COLUMNS)


def test_sample_first_row_values(source_csv):
    if source_csv.name != "creditcard_sample.csv":
        pytest.fail("the genuine sample rows are needed for this check")
    first = validate_file(source_csv).accepted.iloc[0]

    assert first["row_id"] == 2
    assert first["V1"] == pytest.approx(-1.3598071336738)
    assert first["Amount"] == pytest.approx(149.62)
    assert first["Class"] == 0


def test_bad_rows_are_quarantined_with_reason(tmp_path):
    path = write(
        tmp_path,
        HEADER,
        row(),
        row(v1="abc"),
        row(label='"2"'),
        row(amount=""),
        row(amount="-3"),
        row(v1="inf"),
        "1,2,3",
        row(label="1.0"),
    )
    batch = validate_file(path)
    reasons = dict(zip(batch.quarantined["row_id"], batch.quarantined["reason"]))

    assert batch.report["rows_read"] == 8
    assert batch.report["rows_accepted"] == 2
    assert batch.report["rows_quarantined"] == 6
    assert reasons[3] == "not a number"
    assert reasons[4] == "label must be 0 or 1"
    assert reasons[5] == "missing value"
    assert reasons[6] == "must not be negative"
    assert reasons[7] == "not a finite number"
    assert reasons[8] == "expected 31 fields, found 3"
    assert list(batch.accepted["row_id"]) == [2, 9]


def test_quarantine_names_column_and_value(tmp_path):
    path = write(tmp_path, HEADER, row(v1="abc"))
    quarantined = validate_file(path).quarantined.iloc[0]

    assert quarantined["column"] == "V1"
    assert quarantined["value"] == "abc"
    assert quarantined["line"] == 2


def test_empty_file_is_rejected(tmp_path):
    path = write(tmp_path, "")
    path.write_text("")

    with pytest.raises(BatchValidationError, match=r"batch\.csv: the file is empty"):
        validate_file(path)


def test_missing_column_is_named(tmp_path):
    header = HEADER.replace('"V7",', "")
    path = write(tmp_path, header, "1")

    with pytest.raises(
        BatchValidationError, match=r"line 1 \(header\): missing column\(s\) V7"
    ):
        validate_file(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(BatchValidationError, match=r"nothere\.csv: file not found"):
        validate_file(tmp_path / "nothere.csv")


def test_binary_file_is_rejected(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_bytes(b"\xff\xfe\x00\x81garbage")

    with pytest.raises(BatchValidationError, match="not a UTF-8 text file"):
        validate_file(path)


def test_extra_column_is_reported_not_lost(tmp_path):
    path = write(tmp_path, HEADER + ',"merchant"', row() + ",shop")
    batch = validate_file(path)

    assert batch.report["ignored_columns"] == ["merchant"]
    assert batch.report["rows_accepted"] == 1


def test_unquoted_header_and_byte_order_mark(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text(
        "\ufeff" + ",".join(INPUT_COLUMNS) + "\n" + row(label="1") + "\n",
        encoding="utf-8",
    )
    batch = validate_file(path)

    assert batch.report["rows_accepted"] == 1
    assert batch.accepted["Class"].iloc[0] == 1


def test_label_optional_for_scoring(tmp_path):
    header = ",".join(INPUT_COLUMNS[:-1])
    path = write(tmp_path, header, row().rsplit(",", 1)[0])
    batch = validate_file(path, require_label=False)

    assert batch.report["rows_accepted"] == 1
    assert "Class" not in batch.accepted.columns


def test_report_is_json_serialisable(tmp_path):
    path = write(tmp_path, HEADER, row(), row(v1="x"))
    report = validate_file(path).report

    assert json.loads(json.dumps(report))["quarantine_reasons"] == {"not a number": 1}


def test_rows_sorted_by_time(tmp_path):
    path = write(tmp_path, HEADER, row(time="50"), row(time="5"))
    accepted = validate_file(path).accepted

    assert list(accepted["Time"]) == [5.0, 50.0]
    assert list(accepted["row_id"]) == [3, 2]
    assert isinstance(accepted, pd.DataFrame)


def test_blank_lines_and_duplicates_reported(tmp_path):
    path = write(tmp_path, HEADER, row(), "", row(), row(v1="2"))
    report = validate_file(path).report

    assert report["blank_lines"] == 1
    assert report["duplicate_rows"] == 1
    assert report["rows_accepted"] == 3


def test_row_of_empty_fields_is_quarantined(tmp_path):
    path = write(tmp_path, HEADER, "," * 30, row())
    batch = validate_file(path)

    assert batch.report["rows_quarantined"] == 1
    assert batch.quarantined["reason"].iloc[0] == "missing value"


def test_semicolon_separator_is_named(tmp_path):
    path = write(tmp_path, ";".join(INPUT_COLUMNS), row().replace(",", ";"))

    with pytest.raises(BatchValidationError, match="separated by ';'"):
        validate_file(path)
