"""Compares a Parquet or Arrow IPC export of `sensor print` with its flatjson output.

Usage: parquet_check.py FORMAT(parquet|arrow) EXPORT JSONLINES [ROW_GROUPS]

Reads the export with pyarrow (and, for Parquet, pandas too) and checks every column of every
record against the JSON record sysprint would print, by the rules of the typed columns:
strings equal; int64/bool null exactly where JSON has null or ""; timestamps equal to the
matching *_uts nanoseconds (createts: the JSON integer); op flags = the names of the bitmap's
bits in processor order; env = sysprint's ';'-joined string; pod IPs and tags = the JSON lists.
Prints "OK <rows> rows <cols> columns" or fails with the first difference.
"""
import datetime
import json
import sys

import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq

# sf.opflags order (Go GetOpFlags), READ/WRITE spelt RECV/SEND on network records.
OPS = [
    (1 << 15, "MKDIR"), (1 << 16, "RMDIR"), (1 << 17, "LINK"), (1 << 19, "SYMLINK"),
    (1 << 18, "UNLINK"), (1 << 20, "RENAME"), (1 << 0, "CLONE"), (1 << 1, "EXEC"),
    (1 << 2, "EXIT"), (1 << 3, "SETUID"), (1 << 7, "OPEN"), (1 << 5, "ACCEPT"),
    (1 << 6, "CONNECT"), (1 << 10, "CLOSE"), (1 << 9, "WRITE"), (1 << 8, "READ"),
    (1 << 4, "SETNS"), (1 << 13, "MMAP"), (1 << 12, "SHUTDOWN"), (1 << 11, "TRUNCATE"),
    (1 << 14, "DIGEST"),
]
TIME_SOURCE = {"ts": "ts_uts", "endts": "endts_uts"}


def op_names(bits, rtype):
    net = rtype in ("NF", "NE")
    out = []
    for b, n in OPS:
        if bits & b:
            if net and n == "READ":
                n = "RECV"
            elif net and n == "WRITE":
                n = "SEND"
            out.append(n)
    return out


def absent(v):
    return v is None or v == ""


def expect(col, typ, rec, jv, tv):
    """Raises AssertionError when the typed value tv does not match JSON record rec."""
    if pa.types.is_string(typ):
        if isinstance(jv, str):
            assert tv == jv, (tv, jv)
        elif isinstance(jv, int) and not isinstance(jv, bool):
            assert tv == str(jv), (tv, jv)
        else:  # pod.services: JSON text of the list
            assert json.loads(tv) == jv, (tv, jv)
    elif pa.types.is_int64(typ):
        if absent(jv):
            assert tv is None, (tv, jv)
        else:
            assert tv == int(jv), (tv, jv)
    elif pa.types.is_boolean(typ):
        if absent(jv):
            assert tv is None, (tv, jv)
        else:
            assert tv is jv, (tv, jv)
    elif pa.types.is_timestamp(typ):
        assert typ.unit == "ns" and typ.tz == "UTC", typ
        if absent(jv):
            assert tv is None, (tv, jv)
        elif col in TIME_SOURCE and TIME_SOURCE[col] in rec:
            assert tv == rec[TIME_SOURCE[col]], (tv, rec[TIME_SOURCE[col]])
        elif col in TIME_SOURCE:
            # Only sysprint's ISO text (float seconds, microseconds): equal to within 2 us.
            iso = datetime.datetime.fromisoformat(jv).replace(tzinfo=datetime.timezone.utc)
            d = iso - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
            iso_ns = (d.days * 86400 + d.seconds) * 10**9 + d.microseconds * 1000
            assert abs(tv - iso_ns) <= 2000, (tv, jv)
        else:
            assert tv == jv, (tv, jv)
    elif pa.types.is_list(typ):
        if col == "opflags":
            if absent(jv):
                assert tv is None, (tv, jv)
            else:
                assert tv == op_names(rec["opflags_bitmap"], rec["type"]), (tv, rec["opflags_bitmap"])
        elif col in ("proc.env", "pproc.env"):
            if tv is None:
                assert jv == "", (tv, jv)
            else:
                assert ";".join(e for e in tv if e and e != "=") == jv, (tv, jv)
        elif absent(jv):
            assert tv is None, (tv, jv)
        else:
            assert tv == list(jv), (tv, jv)
    else:
        raise AssertionError(f"unexpected type {typ}")


def main():
    fmt, export, jsonl = sys.argv[1], sys.argv[2], sys.argv[3]
    row_groups = int(sys.argv[4]) if len(sys.argv) > 4 else None
    with open(jsonl) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    if fmt == "parquet":
        pf = pq.ParquetFile(export)
        if row_groups is not None:
            assert pf.metadata.num_row_groups == row_groups, pf.metadata.num_row_groups
        table = pf.read()
    else:
        with pa.memory_map(export) as src:
            table = pa.ipc.open_file(src).read_all()
    assert table.num_rows == len(recs), (table.num_rows, len(recs))
    cols = table.column_names
    if recs:
        assert cols == list(recs[0].keys()), (cols, list(recs[0].keys()))
    vals_ns = {}
    for col in cols:
        typ = table.schema.field(col).type
        arr = table.column(col)
        # Timestamps as raw nanoseconds (to_pylist would round to microseconds).
        vals = arr.cast(pa.int64()).to_pylist() if pa.types.is_timestamp(typ) else arr.to_pylist()
        if pa.types.is_timestamp(typ):
            vals_ns[col] = vals
        for i, (rec, tv) in enumerate(zip(recs, vals)):
            try:
                expect(col, typ, rec, rec[col], tv)
            except AssertionError as e:
                raise AssertionError(f"record {i} column {col} ({typ}): {e}") from None

    if fmt == "parquet":
        import pandas as pd

        # Nullable integer dtypes: the numpy default would turn int64 columns with nulls into
        # float64 and lose nanosecond precision.
        df = pd.read_parquet(export, dtype_backend="numpy_nullable")
        assert list(df.columns) == cols and len(df) == len(recs)
        for col in cols:
            typ = table.schema.field(col).type
            if pa.types.is_timestamp(typ):
                assert str(df[col].dtype) == "datetime64[ns, UTC]", (col, df[col].dtype)
                for i, rec in enumerate(recs):
                    v = df[col].iloc[i]
                    if absent(rec[col]):
                        assert pd.isna(v), (i, col, v)
                    else:
                        assert v.value == vals_ns[col][i], (i, col, v)
            elif pa.types.is_int64(typ):
                s = df[col]
                assert str(s.dtype) == "Int64", (col, s.dtype)
                for i, rec in enumerate(recs):
                    if absent(rec[col]):
                        assert pd.isna(s.iloc[i]), (i, col)
                    else:
                        assert int(s.iloc[i]) == rec[col], (i, col, s.iloc[i], rec[col])
            elif pa.types.is_string(typ):
                got = df[col].tolist()
                want = [r[col] if isinstance(r[col], str) else None for r in recs]
                for i, (g, w) in enumerate(zip(got, want)):
                    if w is not None:
                        assert g == w, (i, col, g, w)
    print(f"OK {len(recs)} rows {len(cols)} columns")


if __name__ == "__main__":
    main()
