#!/usr/bin/env python3
"""Replays dumped rego-authz decisions on OPA itself and compares the results.

Each JSON file in DIR (written by the rego-authz case tests with
TOLLGATE_DUMP_DECISIONS=DIR) holds modules, data, a query, the input document and
regorus' result. OPA's engine comes from the `opa-golib-python-bindings` wheel
(OPA 1.20.2 as a Go c-shared library, libopabridge.so), called through ctypes.
Usage: replay.py LIBOPABRIDGE DIR   (exit 1 on any difference)
       replay.py LIBOPABRIDGE DIR --bench N NAME...   (OPA's cost per evaluation of the
       named dumps, e.g. hcp.002: policies loaded once, the query evaluated N times)
"""
import ctypes
import json
import pathlib
import sys


def load(path):
    lib = ctypes.CDLL(path)
    lib.OpaNew.restype = ctypes.c_uint64
    lib.OpaDestroy.argtypes = [ctypes.c_uint64]
    lib.OpaFreeString.argtypes = [ctypes.c_void_p]
    for name in ("OpaAddPolicy", "OpaAddData"):
        f = getattr(lib, name)
        f.restype = ctypes.c_void_p
        f.argtypes = [ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p]
    lib.OpaEvalQuery.restype = ctypes.c_void_p
    lib.OpaEvalQuery.argtypes = [ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    return lib


def envelope(lib, ptr):
    text = ctypes.string_at(ptr).decode()
    lib.OpaFreeString(ptr)
    doc = json.loads(text)
    if doc.get("error"):
        raise RuntimeError(doc["error"])
    return doc


def opa_result(lib, case):
    h = lib.OpaNew()
    try:
        for name, text in sorted(case["modules"].items()):
            envelope(lib, lib.OpaAddPolicy(h, name.encode(), text.encode()))
        if case.get("data"):
            envelope(lib, lib.OpaAddData(h, b"", json.dumps(case["data"]).encode()))
        out = envelope(lib, lib.OpaEvalQuery(h, case["query"].encode(), json.dumps(case["input"]).encode(), 0, 0))
        return out
    finally:
        lib.OpaDestroy(h)


def value_of(out):
    """The query's value from OPA's result set (None when undefined)."""
    rs = out.get("result")
    if isinstance(rs, dict) and "result" in rs:
        rs = rs["result"]
    if not rs:
        return None
    first = rs[0]
    exprs = first.get("expressions") if isinstance(first, dict) else None
    if exprs:
        return exprs[0].get("value")
    return first


def bench(lib, directory, n, names):
    import time
    for name in names:
        case = json.loads((pathlib.Path(directory) / f"{name}.json").read_text())
        h = lib.OpaNew()
        try:
            for mod, text in sorted(case["modules"].items()):
                envelope(lib, lib.OpaAddPolicy(h, mod.encode(), text.encode()))
            if case.get("data"):
                envelope(lib, lib.OpaAddData(h, b"", json.dumps(case["data"]).encode()))
            query = case["query"].encode()
            doc = json.dumps(case["input"]).encode()
            assert value_of(envelope(lib, lib.OpaEvalQuery(h, query, doc, 0, 0))) == case["result"]
            runs = []
            for _ in range(5):
                start = time.perf_counter_ns()
                for _ in range(n):
                    lib.OpaFreeString(lib.OpaEvalQuery(h, query, doc, 0, 0))
                runs.append((time.perf_counter_ns() - start) / n / 1000)
            runs.sort()
            print(f"{name}: OPA {runs[2]:.1f} us per evaluation (median of 5 runs of {n})")
        finally:
            lib.OpaDestroy(h)


def main():
    lib = load(sys.argv[1])
    if len(sys.argv) > 3 and sys.argv[3] == "--bench":
        bench(lib, sys.argv[2], int(sys.argv[4]), sys.argv[5:])
        return
    files = sorted(pathlib.Path(sys.argv[2]).glob("*.json"))
    bad = 0
    for f in files:
        case = json.loads(f.read_text())
        got = value_of(opa_result(lib, case))
        want = case["result"]
        same = got == want
        print(("same " if same else "DIFF ") + f.name + ("" if same else f": OPA {json.dumps(got)} regorus {json.dumps(want)}"))
        bad += 0 if same else 1
    print(f"{len(files) - bad} of {len(files)} decisions identical to OPA's")
    sys.exit(1 if bad or not files else 0)


if __name__ == "__main__":
    main()
