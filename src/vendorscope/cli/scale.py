"""`scale identify` and `scale exposure`: the identify stage on Apache Spark, and the national view."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from vendorscope.cli.application import app
from vendorscope.cli.common import fail, say

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

scale_app = typer.Typer(
    help="Internet scale on Apache Spark: identify scan data, and the national exposure view.",
    no_args_is_help=True,
)
app.add_typer(scale_app, name="scale", rich_help_panel="Identify")


class ScaleFormat(StrEnum):
    parquet = "parquet"
    jsonl = "jsonl"


MASTER_HELP = "Spark master: local[*] (default: this machine's cores), local[N], spark://HOST:PORT, yarn."


@scale_app.command("identify")
def scale_identify(
    inputs: list[str] = typer.Argument(..., help="JSON-lines files (observations or Shodan/Censys/ZGrab2 records, "
                                       ".gz too), Parquet files or directories of them.", show_default=False),
    output: str = typer.Option(..., "--output", "-o", help="Output directory (Spark writes part files)."),
    master: str = typer.Option(None, "--master", help=MASTER_HELP, show_default=False),
    fmt: ScaleFormat = typer.Option(ScaleFormat.parquet, "--format", "-f", help="Output format."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUTPUT if it exists."),
) -> None:
    """Attribute every observation of big scan data with Spark: the same engine as `identify`, one row per
    observation line (its columns kept), one per piece of evidence of a scan record, and an `error` column.

    Examples:

      vendorscope scale identify shodan-*.json.gz -o attributed.parquet

      spark-submit --master yarn $(which vendorscope) scale identify hdfs:///scans/ -o hdfs:///out/attributed
    """
    from vendorscope.scale.job import InputError, classify_input, spark_uri

    try:
        classified = [classify_input(path) for path in inputs]
    except InputError as exc:
        fail(str(exc))
    if not overwrite and not output.startswith(("hdfs://", "s3a://", "s3://", "gs://")) and Path(output).exists():
        fail(f"{output}: already exists (use --overwrite to replace it)")
    from vendorscope.scale.job import attributed_frame

    with _session(master) as spark:
        try:
            frame = attributed_frame(spark, classified)
            writer = frame.write.mode("overwrite" if overwrite else "errorifexists")
            writer.parquet(spark_uri(output)) if fmt is ScaleFormat.parquet else writer.json(spark_uri(output))
            stats = (spark.read.parquet if fmt is ScaleFormat.parquet else spark.read.json)(spark_uri(output))
            counts = stats.selectExpr("count(1) AS n", "count(error) AS errors", "count(vendor) AS identified").first()
        except Exception as exc:  # noqa: BLE001 - Spark raises Py4J/PySpark errors with JVM traces: one line each
            _spark_failed(exc)
    n, errors, identified = (counts["n"], counts["errors"], counts["identified"]) if counts else (0, 0, 0)
    say(f"{output}: {n} rows, {identified} attributed, {errors} unreadable")


@scale_app.command("exposure")
def scale_exposure(
    attributed: str = typer.Argument(..., help="The Parquet output of `scale identify`.", show_default=False),
    output: Path = typer.Option(..., "--output", "-o", help="exposure.html or exposure.json."),
    master: str = typer.Option(None, "--master", help=MASTER_HELP, show_default=False),
    pack: list[str] = typer.Option(None, "--pack", "-p", help="Only these policy packs (ids; default: all)."),
    as_of: str = typer.Option(None, "--as-of", help="Judge coverage on this day (YYYY-MM-DD; default today)."),
) -> None:
    """The national view: hosts per vendor group, product and version, port/service, country and
    autonomous system, and what each policy pack's covered list reaches, as HTML (with the report's
    charts) or JSON.

    Example:

      vendorscope scale exposure attributed.parquet -o exposure.html
    """
    from vendorscope.identify.registry import default_registry
    from vendorscope.judge.packs import PackError, load_packs
    from vendorscope.scale.exposure import build_exposure, exposure_counts
    from vendorscope.scale.job import InputError, classify_input, spark_uri
    from vendorscope.scale.render import render_html, render_json

    suffix = output.suffix.lower()
    if suffix not in (".html", ".htm", ".json"):
        fail(f"{output}: the output must end in .html or .json")
    try:
        on = date.fromisoformat(as_of) if as_of else datetime.now(UTC).date()
    except ValueError:
        fail(f"--as-of {as_of!r}: not a date (YYYY-MM-DD)")
    try:
        packs = load_packs()
    except PackError as exc:
        fail(str(exc))
    if pack:
        unknown = sorted(set(pack) - {p.id for p in packs})
        if unknown:
            fail(f"no policy pack {', '.join(unknown)} (see `vendorscope policies`)")
        packs = [p for p in packs if p.id in pack]
    try:
        if classify_input(attributed).format != "parquet":
            fail(f"{attributed}: not Parquet (run `vendorscope scale identify ... --format parquet` first)")
    except InputError as exc:
        fail(str(exc))
    with _session(master) as spark:
        try:
            counts = exposure_counts(spark.read.parquet(spark_uri(attributed)))
        except ValueError as exc:
            fail(f"{attributed}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one line, not a JVM trace
            _spark_failed(exc)
    exposure = build_exposure(counts, packs, on, default_registry())
    text = render_json(exposure) if suffix == ".json" else render_html(exposure)
    output.write_text(text, encoding="utf-8")
    t = exposure["totals"]
    say(f"{output}: {t[exposure['unit']]} {exposure['unit']}, {t['identified']} identified, "
        f"{t['covered']} covered, {t['review']} to review")


@contextmanager
def _session(master: str | None) -> Iterator[SparkSession]:
    from vendorscope.scale.session import SparkUnavailable, first_line, session_for

    with ExitStack() as stack:
        try:
            spark = stack.enter_context(session_for(master))
        except SparkUnavailable as exc:
            fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - the JVM failed to start: say why in one line
            fail(f"Spark did not start: {first_line(exc)}")
        yield spark


def _spark_failed(exc: Exception) -> NoReturn:
    from vendorscope.scale.session import first_line, log_file

    fail(f"Spark job failed: {first_line(exc)} (details in {log_file()})")
