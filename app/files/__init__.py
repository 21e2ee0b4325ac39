"""File readers: CSV, JSONL and Parquet as streams of record batches (pyarrow), with
errors that name the file, the line or row, and the column."""
