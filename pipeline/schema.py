"""Column layout of a transaction batch (the public ``creditcard.csv`` layout)."""

PCA_COLUMNS = [f"V{i}" for i in range(1, 29)]
FEATURE_COLUMNS = [*PCA_COLUMNS, "Amount"]
LABEL_COLUMN = "Class"
TIME_COLUMN = "Time"
INPUT_COLUMNS = [TIME_COLUMN, *FEATURE_COLUMNS, LABEL_COLUMN]

# Added by validation: the row's line number in its source file (the header is line 1),
# so every prediction and quarantined row can be traced back to the file.
ROW_ID_COLUMN = "row_id"
