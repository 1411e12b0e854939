from datetime import date

import pytest

from pipeline import layout
from pipeline.batches import split_days
from pipeline.validation import BatchValidationError

HEADER = '"Time","V1","Amount","Class"\n'


def test_split_counts_and_dates(data_dir, tmp_path):
    source = tmp_path / "source.csv"
    source.write_text(
        HEADER + '0,1.5,2,"0"\n3599,1.5,2,"1"\n3600,1.5,2,"0"\n7300,1,1,"0"\n'
    )

    written = split_days(source, date(2024, 1, 1), hours_per_day=1)

    assert written == {date(2024, 1, 1): 2, date(2024, 1, 2): 1, date(2024, 1, 3): 1}
    assert layout.incoming_dates() == list(written)


def test_split_keeps_lines_byte_for_byte(data_dir, source_csv):
    split_days(source_csv, date(2013, 9, 1), hours_per_day=24)
    source_lines = source_csv.read_text().splitlines()
    batch_lines = []
    for day in layout.incoming_dates():
        lines = layout.incoming_path(day).read_text().splitlines()
        assert lines[0] == source_lines[0]
        batch_lines.extend(lines[1:])

    assert batch_lines == source_lines[1:]


def test_split_keeps_existing_batches(data_dir, tmp_path):
    source = tmp_path / "source.csv"
    source.write_text(HEADER + '0,1.5,2,"0"\n')
    split_days(source, date(2024, 1, 1), hours_per_day=6)
    layout.incoming_path(date(2024, 1, 1)).write_text("landed earlier\n")

    assert split_days(source, date(2024, 1, 1), hours_per_day=6) == {}
    assert layout.incoming_path(date(2024, 1, 1)).read_text() == "landed earlier\n"


def test_split_rejects_bad_time(data_dir, tmp_path):
    source = tmp_path / "source.csv"
    source.write_text(HEADER + '0,1.5,2,"0"\nnoon,1.5,2,"0"\n')

    with pytest.raises(
        BatchValidationError,
        match=r"source\.csv, line 3, column Time: invalid value 'noon'",
    ):
        split_days(source, date(2024, 1, 1), hours_per_day=6)


def test_split_rejects_missing_time_column(data_dir, tmp_path):
    source = tmp_path / "source.csv"
    source.write_text('"V1","Amount"\n1,2\n')

    with pytest.raises(BatchValidationError, match="no Time column"):
        split_days(source, date(2024, 1, 1), hours_per_day=6)


def test_split_rejects_nonpositive_day_length(data_dir, tmp_path):
    source = tmp_path / "source.csv"
    source.write_text(HEADER)

    with pytest.raises(ValueError, match="hours_per_day must be positive, got 0"):
        split_days(source, date(2024, 1, 1), hours_per_day=0)


def test_split_rejects_infinite_time(data_dir, tmp_path):
    source = tmp_path / "source.csv"
    source.write_text(HEADER + '1e400,1.5,2,"0"\n')

    with pytest.raises(
        BatchValidationError, match="line 2, column Time: invalid value '1e400'"
    ):
        split_days(source, date(2024, 1, 1), hours_per_day=6)


def test_split_rejects_binary_file(data_dir, tmp_path):
    source = tmp_path / "source.csv"
    source.write_bytes(b"\xf0\x28\x8c\x28" * 50)

    with pytest.raises(BatchValidationError, match="not a UTF-8 text file"):
        split_days(source, date(2024, 1, 1), hours_per_day=6)


def test_invalid_batch_names_are_ignored(data_dir, caplog):
    layout.incoming_dir().mkdir(parents=True)
    for name in (
        "transactions_2013-13-45.csv",
        "transactions_20131014.csv",
        "transactions_2013-09-01.csv",
    ):
        (layout.incoming_dir() / name).write_text("Time\n")

    assert layout.incoming_dates() == [date(2013, 9, 1)]
    assert "transactions_2013-13-45.csv: a batch file must be named" in caplog.text
