"""A quiet SparkSession: Spark's own logging at ERROR, no console progress bar, no web UI when local.

Everything that talks to the JVM lives here and in :mod:`vendorscope.scale.job`;
the functions Spark runs on the workers are in :mod:`vendorscope.scale.rows`
and :mod:`vendorscope.identify.batch`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

# Spark's log4j2 set-up, written where the driver JVM can read it: errors only, on stderr.
LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark %p %c{1}: %m%n
logger.spark.name = org.apache.spark
logger.spark.level = error
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = error
logger.parquet.name = org.apache.parquet
logger.parquet.level = error
"""


class SparkUnavailable(RuntimeError):
    """PySpark or Java is missing (the message says what to install)."""


def java_missing() -> str | None:
    """Why Spark cannot start a JVM here, or None when it can."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return None
    if shutil.which("java"):
        return None
    return "Spark needs a Java runtime (17 or newer): run scripts/install-system-deps.sh or apt-get install " \
           "openjdk-17-jre-headless"


def pyspark_missing() -> str | None:
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError:
        return "Spark support is not installed: pip install 'vendorscope[spark]'"
    return None


def _log_config() -> Path:
    path = Path(tempfile.gettempdir()) / f"vendorscope-log4j2-{os.getuid()}.properties"
    if not path.exists() or path.read_text() != LOG4J2:
        path.write_text(LOG4J2)
    return path


def local_cores(master: str) -> int:
    """The cores a ``local[N]`` / ``local[*]`` / ``local`` master uses."""
    inside = master.partition("[")[2].partition("]")[0].partition(",")[0]
    if master == "local" or not inside:
        return 1
    return os.cpu_count() or 1 if inside == "*" else max(int(inside) if inside.isdigit() else 1, 1)


def spark_session(master: str | None, app_name: str = "vendorscope") -> SparkSession:
    """A session on ``master`` (None: whatever spark-submit set, else local[*]), quiet on the terminal."""
    problem = pyspark_missing() or java_missing()
    if problem:
        raise SparkUnavailable(problem)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:  # inside a caller's session (a notebook, the tests): use it as it is
        return active
    builder = SparkSession.builder.appName(app_name)
    # Under spark-submit the master is spark-submit's; on its own, this machine's cores.
    submitted = bool(os.environ.get("PYSPARK_GATEWAY_PORT") or os.environ.get("SPARK_ENV_LOADED"))
    chosen = master or (None if submitted else "local[*]")
    if chosen is not None:
        builder = builder.master(chosen)
    local = chosen is not None and chosen.startswith("local")
    log = f"-Dlog4j.configurationFile=file:{_log_config()} -Dlog4j2.configurationFile=file:{_log_config()}"
    builder = (
        builder.config("spark.driver.extraJavaOptions", log)
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.useLargeVarTypes", "false")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "10000")
        .config("spark.python.worker.reuse", "true")
        # Standard Parquet timestamps (not the legacy INT96), so pyarrow and others read them with their zone.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )
    if local:
        # Workers run this very interpreter (with vendorscope installed), not whatever python3 is on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = builder.config("spark.ui.enabled", "false").config(
            "spark.sql.shuffle.partitions", str(2 * local_cores(chosen or "local[*]")))
    with _stderr_to(log_file()):  # the JVM inherits fd 2: its start-up chatter goes to the log file
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def session_for(master: str | None) -> Iterator[SparkSession]:
    """A session for one command: stopped at the end unless the caller already had one running."""
    problem = pyspark_missing() or java_missing()
    if problem:
        raise SparkUnavailable(problem)
    from pyspark.sql import SparkSession

    had = SparkSession.getActiveSession() is not None
    session = spark_session(master)
    try:
        yield session
    finally:
        if not had:
            session.stop()


def log_file() -> Path:
    """Where the JVM's own output goes (it never reaches the terminal)."""
    return Path(tempfile.gettempdir()) / f"vendorscope-spark-{os.getuid()}.log"


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def first_line(exc: BaseException) -> str:
    """A one-line reason from a Spark or Py4J exception (their messages carry JVM stack traces)."""
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "Traceback", "JVM stacktrace")):
            return line[:300]
    return type(exc).__name__
