"""Internet scale: the identify stage on Apache Spark (job, rows) and the national exposure view."""
