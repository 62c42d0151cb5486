#!/usr/bin/env python3
"""sqlite-vec anchor for the Codex search benchmark (crates/rf-codex/benches).

Reads N unit vectors (little-endian f32, row-major) and query vectors, loads
them into a sqlite-vec `vec0` table, and times top-10 KNN queries. Prints one
JSON line: {"n": N, "median_ms": ..., "top1": [...]} (top1: the best rowid per
query, 0-based, so the caller can check both searches agree).

Usage: sqlite_vec_anchor.py VECTORS QUERIES DIMENSIONS ROUNDS
Needs `pip install sqlite-vec==0.1.9 apsw==3.54.1.0` (the benchmark makes a venv for them).
"""
import json
import apsw
import statistics
import sys
import time

import sqlite_vec


def main():
    vectors_path, queries_path, dims, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    row = dims * 4
    data = open(vectors_path, "rb").read()
    queries = open(queries_path, "rb").read()
    n = len(data) // row
    # apsw: Debian's Python sqlite3 module cannot load extensions.
    db = apsw.Connection(":memory:")
    db.enable_load_extension(True)
    db.load_extension(sqlite_vec.loadable_path())
    db.enable_load_extension(False)
    db.execute(f"CREATE VIRTUAL TABLE vec USING vec0(embedding float[{dims}])")
    with db:
        db.executemany("INSERT INTO vec(rowid, embedding) VALUES (?, ?)", ((i + 1, data[i * row:(i + 1) * row]) for i in range(n)))
    times, top1 = [], []
    n_queries = len(queries) // row
    for r in range(rounds):
        q = queries[(r % n_queries) * row:((r % n_queries) + 1) * row]
        start = time.perf_counter()
        rows = db.execute("SELECT rowid, distance FROM vec WHERE embedding MATCH ? AND k = 10", (q,)).fetchall()
        times.append(time.perf_counter() - start)
        if r < n_queries:
            top1.append(rows[0][0] - 1)
    print(json.dumps({"n": n, "median_ms": statistics.median(times) * 1000, "top1": top1}))


if __name__ == "__main__":
    main()
