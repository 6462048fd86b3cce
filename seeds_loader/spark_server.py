"""A local Spark Thrift Server from the installed pyspark (``make spark-up`` / ``make spark-down``).

It serves ``RR_SPARK_HOST``:``RR_SPARK_PORT`` (127.0.0.1:10001 by default) with the project's local
Spark settings (:meth:`Settings.spark_conf`: master, memory, the warehouse folder and the Derby
metastore under ``RR_SPARK_DIR``), so that dbt (``RR_SPARK_METHOD=thrift``), the loader, the
exports and Airflow's tasks share one Spark and pay its start-up (about 40 s) once. Its PID is
recorded in ``RR_SPARK_DIR/thrift-server.pid`` and its log in ``RR_SPARK_DIR/logs/``; ``down``
stops only the process it recorded. Nothing is downloaded: pyspark 4 ships the Hive and
Thrift-server jars.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from seeds_loader.processes import alive
from seeds_loader.settings import Settings

START_TIMEOUT_S = 240.0


class SparkServerError(RuntimeError):
    pass


def _pid_file(settings: Settings) -> Path:
    return settings.spark_dir / "thrift-server.pid"


def log_file(settings: Settings) -> Path:
    return settings.spark_dir / "logs" / "thrift-server.log"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def recorded_pid(settings: Settings) -> int | None:
    try:
        pid = int(_pid_file(settings).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def spark_submit() -> Path:
    try:
        import pyspark
    except ImportError as exc:
        raise SparkServerError(
            "pyspark is not installed: pip install -e '.[spark]' (make setup does)"
        ) from exc
    return Path(pyspark.__file__).parent / "bin" / "spark-submit"


def up(settings: Settings, say=print) -> int:
    """Start the server unless it runs; wait until it answers; return its PID."""
    pid = recorded_pid(settings)
    if pid is not None and _answers(settings.spark_host, settings.spark_port):
        say(f"Spark Thrift Server already running (pid {pid}) on {settings.spark_host}:{settings.spark_port}")
        return pid
    if _answers(settings.spark_host, settings.spark_port):
        raise SparkServerError(
            f"{settings.spark_host}:{settings.spark_port} is taken by a process make spark-up did not "
            "start: stop it or choose another RR_SPARK_PORT"
        )
    conf_dir = settings.write_spark_conf()
    log = log_file(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(spark_submit()),
        "--class",
        "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--name",
        "retailrocket-kpi thrift server",
        "--hiveconf",
        f"hive.server2.thrift.port={settings.spark_port}",
        "--hiveconf",
        f"hive.server2.thrift.bind.host={settings.spark_host}",
        "spark-internal",
    ]
    env = {**os.environ, "SPARK_CONF_DIR": str(conf_dir), "PYSPARK_PYTHON": sys.executable}
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=settings.spark_dir,
            env=env,
            start_new_session=True,
        )
    _pid_file(settings).write_text(f"{process.pid}\n")
    say(
        f"starting the Spark Thrift Server (pid {process.pid}) on {settings.spark_host}:{settings.spark_port} ..."
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SparkServerError(
                f"the Spark Thrift Server exited with code {process.returncode}; last lines of {log}:\n"
                + _tail(log)
            )
        if _answers(settings.spark_host, settings.spark_port):
            say(
                f"Spark Thrift Server ready after {START_TIMEOUT_S - (deadline - time.monotonic()):.0f} s (log: {log})"
            )
            return process.pid
        time.sleep(1.0)
    down(settings, say=lambda _m: None)
    raise SparkServerError(
        f"the Spark Thrift Server did not answer within {START_TIMEOUT_S:.0f} s; see {log}"
    )


def down(settings: Settings, say=print) -> bool:
    """Stop the recorded server (SIGTERM, then SIGKILL after 10 s); False when none ran."""
    pid = recorded_pid(settings)
    _pid_file(settings).unlink(missing_ok=True)
    if pid is None:
        say("no Spark Thrift Server started by make spark-up is running")
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(100):
        if not alive(pid):
            break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)
    say(f"Spark Thrift Server stopped (pid {pid})")
    return True


def status(settings: Settings) -> str:
    pid = recorded_pid(settings)
    answers = _answers(settings.spark_host, settings.spark_port)
    if pid and answers:
        return f"running (pid {pid}) on {settings.spark_host}:{settings.spark_port}"
    if pid:
        return f"starting or stuck (pid {pid}, {settings.spark_host}:{settings.spark_port} does not answer)"
    if answers:
        return f"{settings.spark_host}:{settings.spark_port} answers (a server make spark-up did not start)"
    return "not running"


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
