"""Runs every test_* function in tests/integration/test_*.py.

Each test gets a fresh temporary directory. A test that raises lib.Skip is
counted as skipped and its reason printed. The last line is the summary
"N passed, N failed, N skipped"; the exit status is 1 if any test failed."""
import importlib.util
import inspect
import os
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    only = sys.argv[1:]
    passed = failed = skipped = 0
    for fname in sorted(os.listdir(here)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fname[:-3], os.path.join(here, fname))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        tests = [(n, f) for n, f in inspect.getmembers(mod, inspect.isfunction)
                 if n.startswith("test_") and f.__module__ == mod.__name__]
        tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
        for name, fn in tests:
            full = f"{fname[:-3]}.{name}"
            if only and not any(o in full for o in only):
                continue
            t0 = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="crashbox-it-") as tmp:
                try:
                    fn(tmp)
                except lib.Skip as e:
                    skipped += 1
                    print(f"SKIP {full}: {e}", flush=True)
                    continue
                except Exception:
                    failed += 1
                    print(f"FAIL {full}", flush=True)
                    traceback.print_exc()
                    continue
            passed += 1
            print(f"ok   {full} ({time.monotonic() - t0:.2f}s)", flush=True)
        # A module's shared fixture (the container tier's dockerd) ends with it.
        if hasattr(mod, "teardown_module"):
            mod.teardown_module()
    print(f"integration: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
