"""Data in: reading and cleaning labelled CSVs, checking texts, recording datasets."""
