"""Batch scoring of whole files with the production version: in-process, or on Spark.

``python -m admin score INPUT OUTPUT`` reads a CSV (header line, a text column named as
uploads name it, or ``--column``) or a Parquet file and writes the rows with ``label`` and
``proba_positive``. In-process it streams a CSV in chunks through the loaded model;
with ``engine="spark"`` the same registered model runs inside Spark as
``mlflow.pyfunc.spark_udf`` (``local[*]`` by default, a cluster with ``master``), and
Spark writes OUTPUT as its usual folder of part files. Both read text the same way
(UTF-8, undecodable bytes replaced) and write formula-safe CSV, so they give the same
labels. No limit on rows here: this is the operator's tool, not an upload.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.data.ingest import text_column as find_text_column
from sentiment.errors import InvalidInputError, NotFoundError
from sentiment.infra.csvsafe import escape_frame
from sentiment.serving.fanout import Fanout, fanout

CHUNK_ROWS = 20_000
RESULT_TYPE = "label string, proba_positive double"
# needs_guard() of sentiment.infra.csvsafe as a Java regex: a quote, or a formula character
# after any controls, format marks and spaces.
GUARD_REGEX = r"^(?:'|[\p{Cc}\p{Cf}\p{Zs}\p{Zl}\p{Zp}]*[=+\-@])"


def _format(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InvalidInputError(f"{path}: expected a .csv or .parquet file.")
    return suffix[1:]


def text_column(columns: list[str], wanted: str | None) -> str:
    """The column to score: ``wanted`` if given, else the first known text column."""
    found = find_text_column(columns, wanted)
    if wanted and found is None:
        raise InvalidInputError(f"No column {wanted!r}; the file has {columns}.")
    if found is None:
        raise InvalidInputError(f"No text column found in {columns}: name it with --column.")
    return found


def _version(settings: Settings, version: str | None) -> str:
    version = version or registry.production_version(settings)
    if version is None:
        raise NotFoundError("No production version to score with.")
    return str(registry.get_version(version, settings)["version"])


def score(input_path: str, output_path: str, engine: str = "local", master: str | None = None,
          column: str | None = None, version: str | None = None,
          settings: Settings | None = None) -> dict[str, Any]:
    """Score ``input_path`` into ``output_path``; return rows, seconds and rows/s."""
    settings = settings or get_settings()
    if not Path(input_path).exists():
        raise InvalidInputError(f"{input_path} does not exist.")
    kinds = (_format(input_path), _format(output_path))
    version = _version(settings, version)
    started = time.perf_counter()
    if engine == "spark":
        rows = _score_spark(input_path, output_path, kinds, master, column, version, settings)
    elif engine == "local":
        rows = _score_local(input_path, output_path, kinds, column, version, settings)
    else:
        raise InvalidInputError(f"engine must be local or spark, got {engine!r}.")
    seconds = time.perf_counter() - started
    return {"input": input_path, "output": output_path, "engine": engine,
            "master": master or ("local[*]" if engine == "spark" else None),
            "version": version, "rows": rows, "seconds": round(seconds, 2),
            "rows_per_second": round(rows / max(seconds, 1e-9))}


def _chunks(path: str, kind: str) -> Any:
    if kind == "parquet":
        yield pd.read_parquet(path)
        return
    yield from pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=CHUNK_ROWS,
                           encoding="utf-8", encoding_errors="replace")


def _score_local(input_path: str, output_path: str, kinds: tuple[str, str],
                 column: str | None, version: str, settings: Settings) -> int:
    model = fanout(registry.load_model(version, settings), settings.serving_processes)
    try:
        return _write_scores(model, input_path, output_path, kinds, column)
    finally:
        if isinstance(model, Fanout):
            model.close()


def _write_scores(model: Any, input_path: str, output_path: str, kinds: tuple[str, str],
                  column: str | None) -> int:
    rows, writer = 0, None
    csv_out = kinds[1] == "csv"
    with open(output_path, "w", newline="", encoding="utf-8") if csv_out else nullcontext() \
            as handle:
        for chunk in _chunks(input_path, kinds[0]):  # each chunk written as soon as scored
            name = text_column([str(c) for c in chunk.columns], column)
            proba = model.predict_proba(chunk[name].astype(str).tolist())
            chunk = chunk.assign(label=["positive" if p >= 0.5 else "negative" for p in proba],
                                 proba_positive=[float(p) for p in proba])
            if not csv_out:
                writer = _write_parquet(chunk, output_path, writer)
            else:
                escape_frame(chunk).to_csv(handle, header=rows == 0, index=False,
                                           quoting=csv.QUOTE_ALL)
            rows += len(chunk)
    if writer is not None:
        writer.close()
    return rows


def _write_parquet(chunk: pd.DataFrame, path: str, writer: Any) -> Any:
    """Append one chunk to the Parquet file (the writer is opened by the first chunk)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(chunk, preserve_index=False)
    writer = writer or pq.ParquetWriter(path, table.schema)
    writer.write_table(table)
    return writer


def _score_spark(input_path: str, output_path: str, kinds: tuple[str, str],
                 master: str | None, column: str | None, version: str,
                 settings: Settings) -> int:
    try:
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention
    except ImportError as exc:
        raise InvalidInputError("--engine spark needs pyspark: "
                                "pip install -r requirements-spark.txt") from exc
    # Spark's Python workers run this interpreter (the one with the model's packages).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master(master or "local[*]").appName("sentiment-score")
             .config("spark.ui.enabled", "false").getOrCreate())
    reader = spark.read
    frame = (reader.parquet(input_path) if kinds[0] == "parquet" else
             reader.csv(input_path, header=True, multiLine=True, escape='"', encoding="UTF-8"))
    name = text_column(frame.columns, column)
    columns = frame.columns
    parallelism = spark.sparkContext.defaultParallelism
    if frame.rdd.getNumPartitions() < parallelism:  # a multi-line CSV is read by one task
        # Spread it over every core; ranges of the row number keep the input's order.
        frame = (frame.withColumn("_row", F.monotonically_increasing_id())
                 .repartitionByRange(parallelism, "_row").sortWithinPartitions("_row"))
    udf = registry.spark_udf(spark, version, RESULT_TYPE, settings)
    scored = frame.withColumn("_prediction", udf(F.coalesce(F.col(name), F.lit(""))))
    scored = scored.select(*columns, F.col("_prediction.label").alias("label"),
                           F.col("_prediction.proba_positive").alias("proba_positive"))
    scored = scored.cache()
    rows = scored.count()
    if kinds[1] == "parquet":
        scored.write.mode("overwrite").parquet(output_path)
    else:
        guarded = [F.when(F.col(c).rlike(GUARD_REGEX), F.concat(F.lit("'"), F.col(c)))
                   .otherwise(F.col(c)).alias(c) if t == "string" else F.col(c)
                   for c, t in scored.dtypes]
        scored.select(*guarded).write.mode("overwrite").csv(
            output_path, header=True, quoteAll=True, escape='"',
            ignoreLeadingWhiteSpace=False, ignoreTrailingWhiteSpace=False)
    scored.unpersist()
    return rows
