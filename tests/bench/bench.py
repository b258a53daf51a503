"""make bench: crashbox's speed and memory figures, each as a ratio against
a baseline measured in the same run (these machines are shared and noisy).

Not a test: it prints figures and the targets they are held to, and never
fails on a miss."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

CRASHBOX = os.path.abspath(os.environ.get("CRASHBOX", "build/crashbox"))
HELPER = os.path.join(os.path.abspath(os.environ.get("HELPERS", "build/helpers")), "cbhelper")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def timed_transfer(cmd, src_size):
    """Seconds for cmd to push its stderr through a pipe into a reader."""
    sink = subprocess.Popen([HELPER, "drain"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stderr=sink.stdin, stdout=subprocess.DEVNULL)
    sink.stdin.close()
    p.wait()
    out = sink.stdout.read()
    sink.wait()
    took = time.perf_counter() - t0
    assert int(out) == src_size, (out, src_size)
    return took


def timed_to_file(cmd, path):
    with open(path, "wb") as f:
        t0 = time.perf_counter()
        subprocess.run(cmd, stderr=f, stdout=subprocess.DEVNULL, check=False)
        return time.perf_counter() - t0


def relay_throughput(tmp):
    size = 512 * 1024 * 1024
    src = os.path.join(tmp, "src.bin")
    with open(src, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(size >> 20):
            f.write(chunk)
    plain, boxed = [], []
    for _ in range(ROUNDS):  # interleaved, so drift hits both alike
        plain.append(timed_transfer([HELPER, "spew", src], size))
        boxed.append(timed_transfer([CRASHBOX, "--", HELPER, "spew", src], size))
    p, b = statistics.median(plain), statistics.median(boxed)
    print(f"stderr relay, pipe sink: plain pipe {size / p / 2**30:.2f} GiB/s, "
          f"through crashbox {size / b / 2**30:.2f} GiB/s, ratio {p / b:.3f} (target >= 0.9)")
    out = os.path.join(tmp, "out.bin")
    plain, boxed = [], []
    for _ in range(ROUNDS):
        plain.append(timed_to_file([HELPER, "spew", src], out))
        boxed.append(timed_to_file([CRASHBOX, "--", HELPER, "spew", src], out))
    p, b = statistics.median(plain), statistics.median(boxed)
    print(f"stderr relay, file sink: direct {size / p / 2**30:.2f} GiB/s, "
          f"through crashbox {size / b / 2**30:.2f} GiB/s, ratio {p / b:.3f} (read/write path)")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def idle_rss():
    p = subprocess.Popen([CRASHBOX, "--", "sleep", "30"])
    try:
        time.sleep(1.0)
        kib = rss_kib(p.pid)
    finally:
        p.kill()
        p.wait()
    # Baseline in the same run: a plain `sleep`, the smallest process there is.
    s = subprocess.Popen(["sleep", "30"])
    time.sleep(0.5)
    base = rss_kib(s.pid)
    s.kill()
    s.wait()
    print(f"idle RSS: crashbox {kib} KiB ({kib / 1024:.2f} MiB, target < 2 MiB); "
          f"`sleep` {base} KiB; ratio {kib / base:.2f}")


def main():
    print(f"crashbox bench on {os.cpu_count()} cores, {ROUNDS} rounds, medians", flush=True)
    with tempfile.TemporaryDirectory(prefix="crashbox-bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        relay_throughput(tmp)
    idle_rss()
    return 0


if __name__ == "__main__":
    sys.exit(main())
