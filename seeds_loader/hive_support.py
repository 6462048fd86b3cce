"""The one Hive class a Spark Thrift Server needs and pyspark does not ship.

pyspark 4 ships Hive 2.3's ``hive-exec`` without ``hive-llap-common``. Hive's function registry
(``org.apache.hadoop.hive.ql.exec.FunctionRegistry``) registers the LLAP table function
``get_splits`` in its static initialiser, and loading that class needs the interface
``org.apache.hadoop.hive.llap.security.LlapSigner$Signable``; without it the registry cannot
initialise (NoClassDefFoundError). A Thrift Server reaches that initialiser when a client closes
its session on a handler thread whose Hive client belongs to another session: Hive then creates a
client and registers every function. Measured here: one of three parallel ``dbt build``
invocations failed at its close with that error (CI of 2026-12-07), and Spark's own test suite
hung on it until Spark added the LLAP jars to its test classpath (SPARK-51041).

The interface is written here as a class file (an empty public interface, Java 8 format) in a jar
that the Spark driver puts on its class path (``Settings.spark_conf``, docker-compose.yml). It
declares nothing: the function registry only needs the type to exist, and ``get_splits`` (an LLAP
read path that Spark never calls) stays unusable as before. No file is downloaded or compiled.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

JAR_NAME = "rr-hive-llap-signable.jar"
CLASS_NAME = "org/apache/hadoop/hive/llap/security/LlapSigner$Signable"
# Hive's function registry, whose static initialiser needs CLASS_NAME
REGISTRY_CLASS = "org.apache.hadoop.hive.ql.exec.FunctionRegistry"

_ACC_PUBLIC, _ACC_INTERFACE, _ACC_ABSTRACT = 0x0001, 0x0200, 0x0400
_JAVA_8 = 52
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same bytes on every write


def _utf8(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack(">BH", 1, len(data)) + data


def interface_class_file(name: str) -> bytes:
    """The class file of ``public interface <name> {}`` (JVM spec 4.1: constant pool of the
    class's and java/lang/Object's names, no fields, methods or attributes)."""
    pool = [
        _utf8(name),  # 1
        struct.pack(">BH", 7, 1),  # 2: CONSTANT_Class -> 1
        _utf8("java/lang/Object"),  # 3
        struct.pack(">BH", 7, 3),  # 4: CONSTANT_Class -> 3
    ]
    return b"".join(
        [
            struct.pack(">IHHH", 0xCAFEBABE, 0, _JAVA_8, len(pool) + 1),
            *pool,
            # access flags, this class, super class, then no interfaces, fields, methods, attributes
            struct.pack(">HHHHHHH", _ACC_PUBLIC | _ACC_INTERFACE | _ACC_ABSTRACT, 2, 4, 0, 0, 0, 0),
        ]
    )


def jar_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as jar:
        for entry, data in (
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nCreated-By: retailrocket-kpi\r\n\r\n"),
            (f"{CLASS_NAME}.class", interface_class_file(CLASS_NAME)),
        ):
            info = zipfile.ZipInfo(entry, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            jar.writestr(info, data)
    return out.getvalue()


def write_jar(folder: Path) -> Path:
    """Write the jar into ``folder`` unless it is there with these bytes; return its path."""
    path = folder / JAR_NAME
    data = jar_bytes()
    if not path.is_file() or path.read_bytes() != data:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path
