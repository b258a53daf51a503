"""make bench's container figures: docker run start-to-exit of crashbox in
front of a service, against docker run --init (tini) and the bare service,
and crash-to-bundle latency inside a container against the same static
crashbox on the host. One private dockerd (tests/integration/dockerd.py), one
tiny FROM-scratch image; every variant interleaved, round by round."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from dockerd import ENGINE, STATIC_CRASHBOX, STATIC_EXAMPLES  # noqa: E402
from lib import Skip  # noqa: E402

IMAGE = "crashbox-bench"


def build_image(e):
    ctx = tempfile.mkdtemp(prefix="cbbench-")
    try:
        shutil.copy(STATIC_CRASHBOX, os.path.join(ctx, "crashbox"))
        for s in ("clean", "nil-deref"):
            shutil.copy(os.path.join(STATIC_EXAMPLES, s), os.path.join(ctx, s))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM scratch\nCOPY crashbox clean nil-deref /\n")
        e.build(IMAGE, ctx)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)


def crash_to_bundle_ms(stderr):
    for line in stderr.decode(errors="replace").splitlines():
        if "crash-to-bundle:" in line:
            return int(line.split("crash-to-bundle:")[1].split()[0])
    raise AssertionError(f"no crash-to-bundle line: {stderr[-800:]!r}")


def start_to_exit(e, rounds, report):
    variants = {
        "bare": ["--entrypoint", "/clean", IMAGE],
        "tini": ["--init", "--entrypoint", "/clean", IMAGE],
        "crashbox": ["--entrypoint", "/crashbox", IMAGE, "--", "/clean"],
    }
    t = {k: [] for k in variants}
    names = list(variants)
    for i in range(rounds):
        # Each round in another order: the first run after a pause is slower.
        for name in names[i % 3:] + names[:i % 3]:
            args = variants[name]
            t0 = time.perf_counter()
            e.docker("run", "--rm", "--network", "none", *args, check=True)
            t[name].append(time.perf_counter() - t0)
    m = {k: statistics.median(v) for k, v in t.items()}
    detail = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in m.items())
    report("docker run start-to-exit, crashbox -- /svc (ratio to docker run --init, tini)",
           f"{m['crashbox'] / m['tini']:.3f} ({detail})", "<= 1.05", m["crashbox"] / m["tini"] <= 1.05)
    report("docker run start-to-exit, crashbox -- /svc (ratio to the bare service)",
           f"{m['crashbox'] / m['bare']:.3f}", "<= 1.1", m["crashbox"] / m["bare"] <= 1.1)


def crash_latency(e, tmp, rounds, report):
    inside, host = [], []
    for i in range(rounds):
        d = os.path.join(tmp, f"c{i}")
        os.makedirs(d)
        r = e.docker("run", "--rm", "--network", "none", "-v", f"{d}:/bundles", "--entrypoint", "/crashbox",
                     IMAGE, "-v", "-d", "/bundles", "--", "/nil-deref")
        inside.append(crash_to_bundle_ms(r.stderr))
        d = os.path.join(tmp, f"h{i}")
        os.makedirs(d)
        r = subprocess.run([STATIC_CRASHBOX, "-v", "-d", d, "--", os.path.join(STATIC_EXAMPLES, "nil-deref")],
                           capture_output=True, timeout=60)
        host.append(crash_to_bundle_ms(r.stderr))
    a, b = statistics.median(inside), statistics.median(host)
    report("crash-to-bundle latency in a container, typical panic (ratio to the host, same static crashbox)",
           f"{a / max(b, 1):.2f} (median {a} ms in a container, max {max(inside)} ms; {b} ms on the host)",
           "< 50 ms", a < 50)


def container_figures(tmp, rounds, report):
    try:
        e = ENGINE.need()
    except Skip as why:
        report("container figures", f"skipped: {why}")
        return
    try:
        build_image(e)
        start_to_exit(e, max(rounds * 4, 20), report)  # docker run varies by tens of ms
        crash_latency(e, tmp, max(rounds, 5), report)
    finally:
        ENGINE.stop()
