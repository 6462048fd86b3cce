"""The Spark settings, their one home, and the SQL the Python side writes for Spark (no Spark
needed: tests/test_spark.py runs the real thing)."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
import yaml

from seeds_loader.settings import SettingsError, load_settings
from seeds_loader.spark import RUNTIME_CONF, SparkError, inline, literal
from tests.dbt_support import DBT_PROJECT_DIR


def settings(**env):
    return load_settings({"RR_PROJECT_ROOT": "/tmp/rr-root", **env}, use_dotenv=False)


def test_spark_defaults_and_validation():
    s = settings(RR_TARGET="spark")
    assert (s.target, s.spark_method, s.spark_host, s.spark_port) == ("spark", "session", "127.0.0.1", 10001)
    assert str(s.spark_dir) == "/tmp/rr-root/data/spark"
    assert s.describe().startswith("spark:session:")
    assert (
        settings(RR_TARGET="spark", RR_SPARK_METHOD="THRIFT").describe() == "spark:thrift://127.0.0.1:10001"
    )
    for env, message in (
        ({"RR_SPARK_METHOD": "jdbc"}, "RR_SPARK_METHOD must be one of session, thrift"),
        ({"RR_SPARK_PORT": "99999"}, "RR_SPARK_PORT must be a port number"),
        ({"RR_SPARK_PORT": "10001; rm"}, "RR_SPARK_PORT must be a port number"),
        ({"RR_SPARK_AUTH": "basic"}, "RR_SPARK_AUTH must be empty or one of"),
        ({"RR_SPARK_DRIVER_MEMORY": "4 GB"}, "RR_SPARK_DRIVER_MEMORY must be a JVM size"),
    ):
        with pytest.raises(SettingsError, match=message):
            settings(RR_TARGET="spark", **env)


def test_the_local_spark_conf_has_one_home_and_the_profile_agrees(tmp_path):
    s = settings(RR_TARGET="spark", RR_SPARK_DIR=str(tmp_path / "spark"))
    env = s.dbt_env()  # writes spark-defaults.conf
    conf = (tmp_path / "spark" / "conf" / "spark-defaults.conf").read_text().splitlines()
    assert env["SPARK_CONF_DIR"] == str(tmp_path / "spark" / "conf")
    assert dict(line.split(" ", 1) for line in conf) == s.spark_conf()
    assert (
        f"databaseName={tmp_path / 'spark' / 'metastore_db'}"
        in s.spark_conf()["spark.hadoop.javax.jdo.option.ConnectionURL"]
    )
    assert (tmp_path / "spark" / "conf" / "log4j2.properties").is_file()
    # the runtime settings: in the profile under both spellings (session, Thrift Server)
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())
    params = profile["retailrocket"]["outputs"]["spark"]["server_side_parameters"]
    assert params == {**RUNTIME_CONF, **{f"set:hiveconf:{k}": v for k, v in RUNTIME_CONF.items()}}
    # parallel writers: each append to the run history is a partition of its own (rr_append)
    assert profile["retailrocket"]["outputs"]["spark"]["threads"] == 4


def test_the_hive_support_jar_holds_one_empty_public_interface(tmp_path):
    """seeds_loader/hive_support.py: the jar written beside the local Spark's conf, named by its
    driver class path, holds the class file of `public interface LlapSigner$Signable {}` (Java 8
    format, read back field by field here) and the same bytes on every write."""
    import struct
    import zipfile

    from seeds_loader.hive_support import CLASS_NAME, JAR_NAME, jar_bytes

    s = settings(RR_TARGET="spark", RR_SPARK_DIR=str(tmp_path / "spark"))
    s.dbt_env()  # writes spark-defaults.conf and the jar
    jar = tmp_path / "spark" / "jars" / JAR_NAME
    assert s.spark_conf()["spark.driver.extraClassPath"] == str(jar)
    assert jar.read_bytes() == jar_bytes() == jar_bytes()
    with zipfile.ZipFile(jar) as z:
        assert z.namelist() == ["META-INF/MANIFEST.MF", f"{CLASS_NAME}.class"]
        data = z.read(f"{CLASS_NAME}.class")
    magic, minor, major, count = struct.unpack_from(">IHHH", data)
    assert (magic, minor, major, count) == (0xCAFEBABE, 0, 52, 5)
    at, names, classes = 10, {}, {}
    for index in range(1, count):
        tag = data[at]
        if tag == 1:
            (length,) = struct.unpack_from(">H", data, at + 1)
            names[index] = data[at + 3 : at + 3 + length].decode()
            at += 3 + length
        else:
            assert tag == 7
            (classes[index],) = struct.unpack_from(">H", data, at + 1)
            at += 3
    flags, this, super_, *counts = struct.unpack_from(">HHHHHHH", data, at)
    assert at + 14 == len(data)
    assert flags == 0x0601  # public, interface, abstract
    assert names[classes[this]] == CLASS_NAME and names[classes[super_]] == "java/lang/Object"
    assert counts == [0, 0, 0, 0]  # no interfaces, fields, methods or attributes
    # a second write leaves the file alone
    before = jar.stat().st_mtime_ns
    s.write_spark_conf()
    assert jar.stat().st_mtime_ns == before


def test_literals_cannot_break_out_of_their_quotes():
    assert literal("it's") == "'it\\'s'"
    assert literal("a\\'; drop table raw.x; --") == "'a\\\\\\'; drop table raw.x; --'"
    assert literal(None) == "null" and literal(True) == "true" and literal(3) == "3"
    assert literal(dt.date(2015, 9, 17)) == "date'2015-09-17'"
    assert literal(dt.datetime(2015, 9, 17, 1, 2, 3, 4)) == "timestamp'2015-09-17 01:02:03.000004'"
    assert literal(decimal.Decimal("1.50")) == "1.50" and literal(0.1) == "cast(0.1 as double)"
    assert inline("select %s, %s", ("x", 1)) == "select 'x', 1"
    with pytest.raises(SparkError, match="2 placeholders but 1 parameters"):
        inline("select %s, %s", ("x",))
