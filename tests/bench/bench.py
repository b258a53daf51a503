"""make bench: crashbox's speed and memory figures, each as a ratio against
a baseline measured in the same run (these machines are shared and noisy).

Not a test: it prints figures and the targets they are held to, and never
fails on a miss."""
import fcntl
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CRASHBOX = os.path.abspath(os.environ.get("CRASHBOX", "build/crashbox"))
HELPER = os.path.join(os.path.abspath(os.environ.get("HELPERS", "build/helpers")), "cbhelper")
EXAMPLES = os.path.abspath(os.environ.get("EXAMPLES", "build/examples"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
# The fleet listing is measured at full size (crashbox ship puts 10,000
# bundles into s3rver in a minute or two); the one-HEAD-a-bundle comparison
# on fewer, copied in by rclone, and scaled.
FLEET_BUNDLES = int(os.environ.get("BENCH_FLEET_BUNDLES", "10000"))
HEAD_BUNDLES = int(os.environ.get("BENCH_HEAD_BUNDLES", "1000"))
RESULTS = []  # (figure, value, target, verdict) for BENCHMARKS.md


def report(figure, value, target="—", ok=None):
    verdict = "—" if ok is None else ("met" if ok else "GAP")
    RESULTS.append((figure, value, target, verdict))
    print(f"{figure}: {value} (target {target}) {'' if ok is None else verdict}", flush=True)


def children_cpu():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def on_one_core():
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


F_SETPIPE_SZ = 1031


def timed_transfer(cmd, src_size, cpu=None, one_core=False):
    """Seconds for cmd to push its stderr through a pipe into a reader; the
    CPU seconds of the whole pipeline (writer, relay, reader) go to cpu.
    one_core: the whole pipeline on one CPU, where throughput is CPU-bound."""
    c0 = children_cpu()
    pin = on_one_core if one_core else None
    # A 1 MiB pipe to the reader, the size crashbox gives the output pipe
    # it tees into: the plain pipe at its best. In a 64 KiB one the writer
    # and the reader spin on each other's pipe lock on two cores (its rounds
    # ran at 0.8 GiB/s, crashbox's through its own 1 MiB pipes at 2.3).
    rd, wr = os.pipe()
    fcntl.fcntl(wr, F_SETPIPE_SZ, 1 << 20)
    sink = subprocess.Popen([HELPER, "drain"], stdin=rd, stdout=subprocess.PIPE, preexec_fn=pin)
    os.close(rd)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stderr=wr, stdout=subprocess.DEVNULL, preexec_fn=pin)
    os.close(wr)
    p.wait()
    out = sink.stdout.read()
    sink.wait()
    took = time.perf_counter() - t0
    assert int(out) == src_size, (out, src_size)
    if cpu is not None:
        cpu.append(children_cpu() - c0)
    return took


def timed_to_file(cmd, path):
    with open(path, "wb") as f:
        t0 = time.perf_counter()
        subprocess.run(cmd, stderr=f, stdout=subprocess.DEVNULL, check=False)
        return time.perf_counter() - t0


RELAY_ROUNDS = max(ROUNDS, 7)


def relay_throughput(tmp):
    size = 512 * 1024 * 1024
    src = os.path.join(tmp, "src.bin")
    # Log lines, as services write them: the relay looks at every line start.
    line = b"2026-12-02T10:00:00Z info request served in 3ms path=/api/v1/items status=200\n"
    chunk = (line * ((1 << 20) // len(line) + 1))[:1 << 20]
    with open(src, "wb") as f:
        for _ in range(size >> 20):
            f.write(chunk)
    # The plain pipe on two cores is bimodal: in some rounds its writer and
    # reader spin on each other's pipe lock, doubling its CPU and halving its
    # throughput (0.77 against 2.37 GiB/s in one run's rounds). A median of
    # such rounds made the ratio anything from 0.68 to 2.79: each pipeline
    # is taken at its best, the fastest round and the least CPU.
    plain, boxed, plain_cpu, boxed_cpu = [], [], [], []
    for _ in range(RELAY_ROUNDS):  # interleaved, so drift hits both alike
        plain.append(timed_transfer([HELPER, "spew", src], size, plain_cpu))
        boxed.append(timed_transfer([STATIC, "--", HELPER, "spew", src], size, boxed_cpu))
    p, b = min(plain), min(boxed)
    report(f"stderr relay throughput, pipe sink, static build (ratio to a plain pipe, fastest of {RELAY_ROUNDS} rounds)",
           f"{p / b:.3f} ({size / b / 2**30:.2f} vs {size / p / 2**30:.2f} GiB/s)", ">= 0.9", p / b >= 0.9)
    pc, bc = min(plain_cpu), min(boxed_cpu)
    over = (bc - pc) * 2**30 / size
    report(f"stderr relay CPU overhead, whole pipeline (writer, relay, reader), per GiB of log lines (least of "
           f"{RELAY_ROUNDS} rounds)",
           f"{over:.2f} CPU-s ({bc / pc:.2f}x the plain pipe's {pc * 2**30 / size:.2f} CPU-s)", "<= 0.2",
           over <= 0.2)
    # The same pipelines on one core: no core to spare, so the ratio is the
    # CPU ratio, what a machine busy with other work sees.
    plain, boxed = [], []
    for _ in range(ROUNDS):
        plain.append(timed_transfer([HELPER, "spew", src], size, one_core=True))
        boxed.append(timed_transfer([STATIC, "--", HELPER, "spew", src], size, one_core=True))
    p1, b1 = statistics.median(plain), statistics.median(boxed)
    report("stderr relay throughput, pipe sink, the whole pipeline on one core (ratio to a plain pipe)",
           f"{p1 / b1:.3f} ({size / b1 / 2**30:.2f} vs {size / p1 / 2**30:.2f} GiB/s)")
    relay_cpu = [relay_thread_cpu(src) for _ in range(ROUNDS)]
    report("stderr relay thread's own CPU per GiB of log lines (tee, read into the tail, line-start scan)",
           f"{statistics.median(relay_cpu) * 2**30 / size:.3f} CPU-s")
    out = os.path.join(tmp, "out.bin")
    plain, boxed = [], []
    for _ in range(ROUNDS):
        plain.append(timed_to_file([HELPER, "spew", src], out))
        boxed.append(timed_to_file([CRASHBOX, "--", HELPER, "spew", src], out))
    p, b = statistics.median(plain), statistics.median(boxed)
    report("stderr relay throughput, file sink (ratio to writing the file directly)",
           f"{p / b:.3f} ({size / b / 2**30:.2f} vs {size / p / 2**30:.2f} GiB/s)")


def relay_thread_cpu(src):
    """CPU seconds of the relay thread alone, as crashbox -v reports it."""
    p = subprocess.Popen([STATIC, "-v", "--", HELPER, "spew", src], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    tail = b""
    for block in iter(lambda: p.stderr.read(1 << 20), b""):
        tail = (tail + block)[-4096:]
    p.wait()
    m = re.search(rb"stderr relay: \d+ bytes, (\d+) us of CPU", tail)
    return int(m.group(1)) / 1e6 if m else float("nan")


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
    report("idle RSS of crashbox", f"{kib} KiB ({kib / 1024:.2f} MiB; `sleep`: {base} KiB)", "<= 2 MiB",
           kib <= 2048)


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def held_after_logs(binary, nbytes, policy=None):
    """RSS and anon memory of a supervisor after its service wrote nbytes of
    ordinary log lines to stderr (a pipe, as under a container runtime) and
    then idles: what the tail costs for the rest of the container's life."""
    line = "2026-12-02T10:00:00Z info request served in 3ms path=/api/v1/items status=200"
    svc = ["sh", "-c", f'yes "{line}" | head -c {nbytes} >&2; exec sleep 60']
    cmd = [binary] + (["-p", policy] if policy else []) + ["--"] + svc
    if os.path.basename(binary) == "tini":
        cmd = ["tini", "-s", "--"] + svc
    sink = subprocess.Popen([HELPER, "drain"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p = subprocess.Popen(cmd, stderr=sink.stdin, stdout=subprocess.DEVNULL)
    sink.stdin.close()
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # the service's shell has become `sleep`
            kids = [c for c in open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()]
            if kids and open(f"/proc/{kids[0]}/comm").read().strip() == "sleep":
                break
            time.sleep(0.05)
        time.sleep(0.3)  # the relay drains what is still in the pipe
        return status_kib(p.pid, "VmRSS"), status_kib(p.pid, "RssAnon")
    finally:
        p.kill()
        p.wait()
        sink.kill()
        sink.wait()


def relay_memory(tmp):
    big = os.path.join(tmp, "bigtail.policy")
    with open(big, "w") as f:
        f.write("[stderr]\ntail_size = 64M\n")
    binary = STATIC if os.access(STATIC, os.X_OK) else CRASHBOX
    gib = 1 << 30
    rss0, anon0 = held_after_logs(binary, 0)
    rss, anon = held_after_logs(binary, 100 * 10**6)
    rssg, anong = held_after_logs(binary, gib)
    rssb, anonb = held_after_logs(binary, gib, big)
    base = held_after_logs("tini", gib) if shutil.which("tini") else (0, 0)
    grown = max(rss, rssg, rssb) - rss0
    report("memory held after the service wrote 1 GiB to stderr, growth over idle (static build)",
           f"{grown} KiB (RSS idle {rss0} KiB, after 100 MB {rss} KiB, after 1 GiB {rssg} KiB, "
           f"1 GiB with tail_size 64M {rssb} KiB; anon {anon0}/{anon}/{anong}/{anonb} KiB; "
           f"tini after 1 GiB {base[0]} KiB)", "<= 2 MiB", grown <= 2048 and max(anong, anonb) <= 2048)


def exit_hook_overhead(tmp):
    """The service's syscall throughput under the exit hook's filter, as a
    ratio to the same loop with the hook off; beside it the floor, the same
    loop under a one-instruction allow-all filter of its own: what any
    seccomp filter costs, the slow syscall entry every filtered task takes
    even where the kernel's action cache skips the BPF program."""
    off = os.path.join(tmp, "off.policy")
    with open(off, "w") as f:
        f.write("[capture]\nexit_hook = no\n")
    n = "1000000"
    with_hook, without, floor = [], [], []
    # Syscall timings on a shared VM swing by several percent from run to
    # run: many short interleaved rounds, and the fastest of each (the least
    # disturbed), compare the filter rather than the neighbours.
    for _ in range(ROUNDS * 3):
        without.append(int(subprocess.run([CRASHBOX, "-p", off, "--", HELPER, "syscalls", n],
                                          capture_output=True).stdout))
        with_hook.append(int(subprocess.run([CRASHBOX, "--", HELPER, "syscalls", n],
                                            capture_output=True).stdout))
        floor.append(int(subprocess.run([CRASHBOX, "-p", off, "--", HELPER, "syscalls", n, "filtered"],
                                        capture_output=True).stdout))
    a, b, c = min(without), min(with_hook), min(floor)
    report("service syscall throughput under the capture filter (ratio to no filter, fastest of "
           f"{len(without)} rounds)", f"{a / b:.3f} ({b / int(n):.0f} vs {a / int(n):.0f} ns a getppid)", ">= 0.98",
           a / b >= 0.98)
    report("the same under a one-instruction allow-all filter (ratio to no filter): what any seccomp filter costs",
           f"{a / c:.3f} ({c / int(n):.0f} ns a getppid)")
    report("service syscall throughput under the capture filter, ratio to that one-instruction filter",
           f"{c / b:.3f}", ">= 0.98", c / b >= 0.98)


def crash_latency(tmp, example, label, target):
    """Child reaped -> bundle renamed, as crashbox measures it (-v)."""
    d = os.path.join(tmp, "b-" + example)
    os.makedirs(d, exist_ok=True)
    ms, sizes = [], []
    for _ in range(ROUNDS):
        r = subprocess.run([CRASHBOX, "-v", "-d", d, "--", os.path.join(EXAMPLES, example)],
                           capture_output=True)
        for line in r.stderr.decode(errors="replace").splitlines():
            if "crash-to-bundle:" in line:
                ms.append(int(line.split("crash-to-bundle:")[1].split()[0]))
    bundles = [os.path.join(d, f) for f in os.listdir(d)]
    raw = 0
    for line in subprocess.run(["tar", "--zstd", "-tvf", bundles[0]], capture_output=True).stdout.decode().splitlines():
        raw += int(line.split()[2])
    packed = os.path.getsize(bundles[0])
    limit = 50 if "50" in target else 1000
    report(f"crash-to-bundle latency, {label}", f"median {statistics.median(ms)} ms, max {max(ms)} ms",
           f"< {target}", statistics.median(ms) < limit)
    report(f"bundle size, {label}", f"{packed / 1024:.1f} KiB from {raw / 1024:.1f} KiB: compression ratio "
           f"{raw / packed:.1f}")


def core_dump(tmp, mib=1024):
    """[core] dump = yes on a Go service with a 1 GiB live heap: how long the
    service is held, the core's bytes and the bundle's size; beside the
    kernel's own core of the same program (core_pattern "core", ulimit -c),
    whose cost is the run's extra wall time, compressed with zstd -1 after."""
    exe = os.path.join(EXAMPLES, "big-heap")
    env = dict(os.environ, BIG_HEAP_MIB=str(mib))
    held, core, packed = [], 0, 0
    for i in range(max(1, ROUNDS // 2)):
        d = os.path.join(tmp, f"core-{i}")
        os.makedirs(d)
        pol = os.path.join(d, "p.policy")
        with open(pol, "w") as f:
            f.write("[core]\ndump = yes\nbudget = 5min\nmax_size = 16GiB\n")
        subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", exe], capture_output=True, env=env)
        (b,) = [os.path.join(d, n) for n in os.listdir(d) if n.endswith(".tar.zst")]
        m = json.loads(subprocess.run(["tar", "--zstd", "-xOf", b, "manifest.json"], capture_output=True).stdout)
        held.append(m["snapshot"]["held_ms"])
        core, packed = m["core"]["bytes"], os.path.getsize(b)
        subprocess.run(["rm", "-rf", d])
    report(f"core dump of a {mib} MiB heap: service held", f"median {statistics.median(held)} ms, "
           f"max {max(held)} ms ({core / 2**20:.0f} MiB core, "
           f"{core / 2**20 / (statistics.median(held) / 1000):.0f} MiB/s)", "< budget (30 s)",
           max(held) < 30000)
    report(f"core dump of a {mib} MiB heap: bundle size", f"{packed / 2**20:.1f} MiB for a "
           f"{core / 2**20:.0f} MiB core (ratio {core / packed:.1f})")
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    if pattern.startswith("|") or "/" in pattern:
        report("kernel core of the same heap", f"not measured: core_pattern is {pattern!r}")
        return
    kd = os.path.join(tmp, "kernel-core")
    os.makedirs(kd)
    walls = {}
    for limit in ("0", "unlimited"):
        t0 = time.perf_counter()
        subprocess.run(["sh", "-c", f"ulimit -c {limit}; exec {exe}"], cwd=kd, capture_output=True,
                       env=dict(env, GOTRACEBACK="crash"))
        walls[limit] = time.perf_counter() - t0
    cores = [os.path.join(kd, n) for n in os.listdir(kd) if n.startswith("core")]
    if not cores:
        report("kernel core of the same heap", "not measured: no core file appeared")
        return
    st = os.stat(cores[0])
    t0 = time.perf_counter()
    z = subprocess.run(["zstd", "-1", "-q", "-c", cores[0]], capture_output=True).stdout
    zs = time.perf_counter() - t0
    report(f"kernel core of the same heap", f"{(walls['unlimited'] - walls['0']) * 1000:.0f} ms extra to die, "
           f"{st.st_size / 2**20:.0f} MiB ({st.st_blocks * 512 / 2**20:.0f} MiB allocated); zstd -1 after: "
           f"{len(z) / 2**20:.1f} MiB in {zs * 1000:.0f} ms")


def parse_speed(tmp):
    """crashbox parse over 100 MB of log lines with a panic at the end,
    against cat reading the same file (the I/O floor)."""
    path = os.path.join(tmp, "big.log")
    line = b"2026/11/22 10:00:00 GET /api/v1/orders?page=17 200 12.3ms user=4711 trace=4bf92f3577b34da6\n"
    with open(path, "wb") as f:
        f.write(line * (100 * 1024 * 1024 // len(line)))
        f.write(b"panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:5 +0x1d\n")
    cat, parse = [], []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL)
        cat.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        r = subprocess.run([CRASHBOX, "parse", path], capture_output=True)
        parse.append(time.perf_counter() - t0)
        assert b'"message": "boom"' in r.stdout
    c, p = statistics.median(cat), statistics.median(parse)
    report("Go crash parser over 100 MB of logs", f"{p * 1000:.0f} ms (cat: {c * 1000:.0f} ms)", "well under 1 s",
           p < 0.5)


STATIC = os.path.abspath(os.environ.get("STATIC_CRASHBOX", "build/static/crashbox"))
PEERS = {
    "crashbox": lambda cmd: [CRASHBOX, "--"] + cmd,
    "crashbox-static": lambda cmd: [STATIC, "--"] + cmd,
    "tini": lambda cmd: ["tini", "-s", "--"] + cmd,
    "tini-static": lambda cmd: ["tini-static", "-s", "--"] + cmd,
    "dumb-init": lambda cmd: ["dumb-init"] + cmd,
    "catatonit": lambda cmd: ["catatonit", "--"] + cmd,
}


def available_peers():
    import shutil
    return {k: v for k, v in PEERS.items() if shutil.which(v(["x"])[0]) or os.access(v(["x"])[0], os.X_OK)}


def startup_once(wrap, n=100):
    """Wall and CPU (of crashbox and the service together) per start, over n starts."""
    c0 = children_cpu()
    t0 = time.perf_counter()
    for _ in range(n):
        subprocess.run(wrap(["/bin/true"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t0) / n, (children_cpu() - c0) / n


def startup_times(wrap, n=100):
    """Medians of ROUNDS rounds of startup_once."""
    rounds = [startup_once(wrap, n) for _ in range(ROUNDS)]
    return statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)


# Start-up rounds are short (100 starts, about 0.2 s a peer) and a run of
# five swung by 0.1 of the ratio here, of fifteen by 0.09 (1.18-1.27 in
# three runs of the same build): more of them for a steadier median.
STARTUP_ROUNDS = max(ROUNDS, 31)


def startup(peers, tmp):
    # Rounds interleaved (each round every peer, the order reversed every
    # other round): load that comes and goes falls on all of them alike.
    rounds = {name: [] for name in peers}
    for r in range(STARTUP_ROUNDS):
        names = list(peers) if r % 2 == 0 else list(reversed(peers))
        for name in names:
            rounds[name].append(startup_once(peers[name]))
    t = {name: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for name, v in rounds.items()}
    line = ", ".join(f"{k} {v[0] * 1e3:.2f} ms ({v[1] * 1e3:.2f} ms CPU)" for k, v in t.items())
    if "tini" in t:
        report("start-up overhead, X -- /bin/true (ratio to tini)", f"{t['crashbox'][0] / t['tini'][0]:.2f} ({line})",
               "<= 1.2", t["crashbox"][0] / t["tini"][0] <= 1.2)
    else:
        report("start-up, X -- /bin/true", line)
    base = "tini-static" if "tini-static" in t else "tini" if "tini" in t else None
    if base and "crashbox-static" in t:
        w, c = t["crashbox-static"][0] / t[base][0], t["crashbox-static"][1] / t[base][1]
        report(f"start-up of the static build, exit hook on (ratio to {base}: wall, CPU)", f"{w:.2f}, {c:.2f}",
               "<= 1.2", w <= 1.2 and c <= 1.2)
    # The bundle directory's size must not show in the start-up.
    empty, many = os.path.join(tmp, "empty-dir"), os.path.join(tmp, "many-dir")
    os.makedirs(empty)
    os.makedirs(many)
    for i in range(10000):
        with open(os.path.join(many, f"svc-20261122T000000Z-host-{i}-go-panic.tar.zst"), "wb") as f:
            f.write(b"x")
    # Written back before the rounds: the figure is the directory's size, not
    # the disk flushing 10,000 new files under whichever round runs then
    # (1.12 in one run; 1.00 with the same files a minute old).
    os.sync()
    # Rounds interleaved, the order alternating: the 10,000 files just
    # written are flushed meanwhile, and whichever ran second paid for it.
    er, mr = [], []
    for r in range(STARTUP_ROUNDS):
        for d, out in ((empty, er), (many, mr)) if r % 2 == 0 else ((many, mr), (empty, er)):
            out.append(startup_once(lambda cmd: [STATIC, "-d", d, "--"] + cmd))
    e = (statistics.median(x[0] for x in er), statistics.median(x[1] for x in er))
    m = (statistics.median(x[0] for x in mr), statistics.median(x[1] for x in mr))
    report("start-up with 10,000 bundles in the directory (ratio to an empty one: wall, CPU)",
           f"{m[0] / e[0]:.2f}, {m[1] / e[1]:.2f} ({m[0] * 1e3:.2f} vs {e[0] * 1e3:.2f} ms)", "<= 1.1",
           m[0] / e[0] <= 1.1 and m[1] / e[1] <= 1.1)


def peer_rss(peers):
    out, rss = [], {}
    for name, wrap in peers.items():
        # stderr a pipe, as under a container runtime: crashbox relays it.
        p = subprocess.Popen(wrap(["sleep", "30"]), stderr=subprocess.PIPE)
        time.sleep(1.0)
        rss[name] = (status_kib(p.pid, "VmRSS"), status_kib(p.pid, "RssAnon"), status_kib(p.pid, "RssFile"))
        out.append(f"{name} {rss[name][0]} KiB (anon {rss[name][1]}, file {rss[name][2]})")
        p.kill()
        p.wait()
        p.stderr.close()
    report("idle RSS, side by side", ", ".join(out))
    base = "tini-static" if "tini-static" in rss else "tini" if "tini" in rss else None
    if base and "crashbox-static" in rss:
        r, a = rss["crashbox-static"][0] / rss[base][0], rss["crashbox-static"][1]
        report(f"idle RSS of the static build (ratio to {base}; anon)", f"{r:.2f}; anon {a} KiB", "<= 1.2; <= 128 KiB",
               r <= 1.2 and a <= 128)


def signal_latency(peers):
    import select
    res = {}
    for name, wrap in list(peers.items()) + [("direct (no supervisor)", lambda cmd: cmd)]:
        p = subprocess.Popen(wrap([HELPER, "sigecho", "100000"]), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert p.stdout.readline() == b"ready\n"
        lat = []
        for _ in range(200):
            t0 = time.perf_counter()
            os.kill(p.pid, signal.SIGUSR1)
            p.stdout.readline()
            lat.append(time.perf_counter() - t0)
        p.kill()
        p.wait()
        res[name] = statistics.median(lat) * 1e6
    report("signal-forwarding latency (SIGUSR1 sent -> the child has it, median)",
           ", ".join(f"{k} {v:.0f} µs" for k, v in res.items()))


def ls_scale(tmp):
    """crashbox ls over 10,000 bundles: hard links of one real bundle, with
    the index the writers would have kept, and without it."""
    d = os.path.join(tmp, "many")
    os.makedirs(d)
    src = os.path.join(tmp, "b-nil-deref")
    one = os.path.join(src, sorted(f for f in os.listdir(src) if f.endswith(".tar.zst"))[0])
    lines = []
    for i in range(10000):
        name = f"svc{i % 50}-20261122T{i // 3600 % 24:02d}{i // 60 % 60:02d}{i % 60:02d}Z-host-{i}-go-panic.tar.zst"
        os.link(one, os.path.join(d, name))
        lines.append(f"v1\tB\t{1795300000 + i}\tsvc{i % 50}\tgo-panic\t668223ba9a974957\t5200\t{name}\t"
                     f"main.handle (/src/main.go:14)\truntime error: invalid memory address\n")
    with open(os.path.join(d, ".crashbox-index"), "w") as f:
        f.writelines(lines)
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        subprocess.run([CRASHBOX, "ls", d], stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    os.rename(os.path.join(d, ".crashbox-index"), os.path.join(tmp, "index.off"))
    t0 = time.perf_counter()
    subprocess.run([CRASHBOX, "ls", d], stdout=subprocess.DEVNULL)
    noidx = time.perf_counter() - t0
    report("crashbox ls over 10,000 bundles", f"{statistics.median(times) * 1000:.0f} ms with the index, "
           f"{noidx * 1000:.0f} ms reading every manifest", "well under 1 s (with the index)",
           statistics.median(times) < 1.0)

def memory_cgroup(name, limit):
    """A child memory cgroup with a limit (v1 memory or v2), or None."""
    v1 = "/sys/fs/cgroup/memory"
    if os.path.exists(os.path.join(v1, "memory.limit_in_bytes")):
        own = [l.split(":", 2)[2] for l in open("/proc/self/cgroup").read().splitlines() if ":memory:" in l]
        cg = os.path.join(v1, own[0].strip().lstrip("/"), name)
        files = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    elif "memory" in open("/sys/fs/cgroup/cgroup.controllers").read():
        cg, files = os.path.join("/sys/fs/cgroup", name), ["memory.max"]
    else:
        return None
    try:
        os.mkdir(cg)
        for f in files:
            if os.path.exists(os.path.join(cg, f)):
                with open(os.path.join(cg, f), "w") as fh:
                    fh.write(str(limit))
    except OSError:
        return None
    return cg


def remove_cgroup(cg):
    for _ in range(50):
        try:
            os.rmdir(cg)
            return
        except OSError:
            time.sleep(0.1)


def in_cgroup(cg, cmd, read_only):
    """cmd run in cg; read_only: cg bind-mounted read-only over itself in a
    private mount namespace, as a container engine mounts cgroupfs."""
    q = lambda s: "'" + s.replace("'", "'\\''") + "'"
    run = " ".join(q(a) for a in cmd)
    if read_only:
        run = f"unshare -m sh -c {q(f'mount --bind {q(cg)} {q(cg)} && mount -o remount,bind,ro {q(cg)} && exec {run}')}"
    return ["sh", "-c", f"echo $$ > {q(cg)}/cgroup.procs && exec {run}"]


def cpu_ns(pid):
    """CPU time of every thread of pid (schedstat: ns, where utime+stime
    counts 10 ms ticks)."""
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/schedstat") as f:
            total += int(f.read().split()[0])
    return total


def memory_polling(tmp):
    """The read-only cgroup poller: what it costs while the service idles far
    below its watermarks, and how late it sees a crossing in a fast climb;
    each beside a writable cgroup (v1: event-driven thresholds) in the same run."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        report("memory poller", "skipped: needs root and unshare(1) for a read-only memory cgroup")
        return
    names = [f"crashbox-bench-{os.getpid()}-{k}" for k in ("poll", "events")]
    cgs = [memory_cgroup(n, 128 << 20) for n in names]
    if None in cgs:
        for cg in cgs:
            if cg:
                remove_cgroup(cg)
        report("memory poller", "skipped: no memory cgroup can be created here")
        return
    try:
        secs = 20
        # Idle: `sleep` under crashbox, a few hundred KiB of a 128 MiB limit.
        procs = [subprocess.Popen(in_cgroup(cg, [CRASHBOX, "--", "sleep", str(secs + 5)], ro),
                                  stderr=subprocess.DEVNULL) for cg, ro in zip(cgs, (True, False))]
        plain = subprocess.Popen(["sleep", str(secs + 5)])
        time.sleep(2)  # past start-up
        pids = [p.pid for p in procs] + [plain.pid]
        a = [cpu_ns(pid) for pid in pids]
        ticks0 = [sum(int(x) for x in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[11:13])
                  for pid in pids[:1]]
        time.sleep(secs)
        b = [cpu_ns(pid) for pid in pids]
        ticks1 = [sum(int(x) for x in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[11:13])
                  for pid in pids[:1]]
        for p in procs + [plain]:
            p.wait()
        frac = [(y - x) / (secs * 1e9) * 100 for x, y in zip(a, b)]
        report("memory poller CPU while the service idles far below 80% of 128 MiB (read-only cgroup; "
               f"% of one core over {secs} s)",
               f"{frac[0]:.3f}% (utime+stime {ticks1[0] - ticks0[0]} ticks); writable cgroup {frac[1]:.3f}%, "
               f"plain `sleep` {frac[2]:.3f}%", "<= 0.1%", frac[0] <= 0.1)
        # The price of vigilance: a service that holds 80 MiB of 96 MiB (83%,
        # a few MiB under the 90% watermark) is read every 10-20 ms.
        secs_near = 10
        near_cg = memory_cgroup(f"crashbox-bench-{os.getpid()}-near", 96 << 20)
        if near_cg:
            try:
                p = subprocess.Popen(in_cgroup(near_cg, [CRASHBOX, "--", os.path.join(EXAMPLES, "memory-spike"),
                                                         "hold"], True),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                p.stdout.readline()  # "holding"
                time.sleep(1)
                x = cpu_ns(p.pid)
                time.sleep(secs_near)
                y = cpu_ns(p.pid)
                p.kill()
                p.wait()
            finally:
                remove_cgroup(near_cg)
            report("memory poller CPU while the service holds steady 7% under a watermark (83% of 96 MiB, "
                   f"read-only cgroup; % of one core over {secs_near} s)", f"{(y - x) / (secs_near * 1e9) * 100:.3f}%")
        # A fast climb: 4 MiB every 20 ms, 80 -> 95% of 128 MiB in ~100 ms.
        late = {True: {}, False: {}}
        for rnd in range(ROUNDS):
            for cg, ro in zip(cgs, (True, False)):
                d = os.path.join(tmp, f"mem-{rnd}-{ro}")
                os.makedirs(d)
                for pct, ms in climb_latency(cg, ro, d).items():
                    late[ro].setdefault(pct, []).append(ms)

        def fmt(m):
            return ", ".join(f"{p}%: {statistics.median(v):.0f} ms (max {max(v):.0f}, seen {len(v)}/{ROUNDS})"
                             for p, v in sorted(m.items()))
        near = [statistics.median(v) for v in late[True].values()]
        report("memory poller lateness in a fast climb (usage crossing -> pre-OOM snapshot, median; 4 MiB "
               "every 20 ms to the 128 MiB limit)", f"read-only (poll): {fmt(late[True])}; writable: "
               f"{fmt(late[False])}", "tens of ms", bool(near) and max(near) < 100)
    finally:
        for cg in cgs:
            remove_cgroup(cg)


def climb_latency(cg, read_only, d):
    """{percent: ms from usage crossing it to crashbox seeing it}. The usage
    is sampled here every millisecond; crashbox's pre-OOM snapshot records
    when it saw the crossing (time_unix_ms)."""
    usage_file = os.path.join(cg, "memory.usage_in_bytes")
    if not os.path.exists(usage_file):
        usage_file = os.path.join(cg, "memory.current")
    limit = 128 << 20
    marks = {p: limit // 100 * p for p in (80, 90, 95)}
    crossed = {}
    fd = os.open(usage_file, os.O_RDONLY)
    p = subprocess.Popen(in_cgroup(cg, [CRASHBOX, "-d", d, "--", os.path.join(EXAMPLES, "unbounded-alloc"),
                                        "20ms"], read_only), stderr=subprocess.DEVNULL)
    try:
        while p.poll() is None:
            u = int(os.pread(fd, 64, 0))
            now = time.time() * 1000
            for pct, level in marks.items():
                if u >= level and pct not in crossed:
                    crossed[pct] = now
            time.sleep(0.001)
    finally:
        os.close(fd)
        p.wait()
    out = {}
    bundles = [f for f in os.listdir(d) if f.endswith(".tar.zst")]
    for pct, at in crossed.items():
        r = subprocess.run(["tar", "--zstd", "-xOf", os.path.join(d, bundles[0]), f"pre-oom/{pct}/manifest.json"],
                           capture_output=True) if bundles else None
        if r and r.returncode == 0:
            out[pct] = json.loads(r.stdout)["time_unix_ms"] - at  # the sampler is late by up to ~1 ms too
    return out


def ship_figures(tmp):
    """crashbox ship against rclone copy of the same files to the same s3rver,
    and crashbox ls of a store holding 10,000 bundles."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
    import test_ship as ts  # the tests' server and client set-up, not a second copy of it
    try:
        ts.need_tools()
    except Exception as e:  # lib.Skip
        report("crashbox ship upload throughput", f"not measured: {e}")
        return
    s3 = ts.S3rver(tmp).start()
    try:
        d = os.path.join(tmp, "ship-src")
        os.makedirs(d)
        size = 0
        for i in range(3):
            size += 48 << 20
            with open(os.path.join(d, f"big-20261122T10000{i}Z-host-{i}-signal.tar.zst"), "wb") as f:
                f.write(os.urandom(48 << 20))
        env = ts.ship_env(tmp)
        ours, theirs = [], []
        for r in range(max(1, ROUNDS // 2)):
            if os.path.exists(os.path.join(d, ".crashbox-shipped")):
                os.unlink(os.path.join(d, ".crashbox-shipped"))
            t0 = time.perf_counter()
            subprocess.run([CRASHBOX, "ship", d, "--to", f"s3://{ts.BUCKET}/ours{r}", "--endpoint",
                            f"http://127.0.0.1:{s3.port}", "--once"], env=env, check=True,
                           stderr=subprocess.DEVNULL)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            rc = ts.rclone(tmp, s3.port, "copy", "--include", "*.tar.zst", d, f"s3:{ts.BUCKET}/rclone{r}")
            assert rc.returncode == 0, rc.stderr
            theirs.append(time.perf_counter() - t0)
        mb = size / (1 << 20)
        a, b = mb / statistics.median(ours), mb / statistics.median(theirs)
        report("crashbox ship upload throughput (3 x 48 MiB, s3rver on loopback)",
               f"{a:.0f} MiB/s vs rclone copy {b:.0f} MiB/s: ratio {a / b:.2f}", ">= 0.8 of rclone", a / b >= 0.8)

        one = os.path.join(tmp, "b-nil-deref", sorted(f for f in os.listdir(os.path.join(tmp, "b-nil-deref"))
                                                       if f.endswith(".tar.zst"))[0])
        names = [f"svc{i % 50}-20261122T{i // 3600 % 24:02d}{i // 60 % 60:02d}{i % 60:02d}Z-host-{i}-go-panic.tar.zst"
                 for i in range(FLEET_BUNDLES)]
        # The fleet as crashbox ship leaves it: bundles and index segments.
        shipped = os.path.join(tmp, "ship-fleet")
        os.makedirs(shipped)
        for name in names:
            os.link(one, os.path.join(shipped, name))
        subprocess.run([CRASHBOX, "ship", shipped, "--to", f"s3://{ts.BUCKET}/fleet", "--endpoint",
                        f"http://127.0.0.1:{s3.port}", "--once"], env=env, check=True, stderr=subprocess.DEVNULL)
        # The same bundles copied in by rclone: no segments, one HEAD each.
        many = os.path.join(tmp, "ship-many")
        for name in names[:HEAD_BUNDLES]:
            sub = os.path.join(many, name.split("-")[0], "2026", "11", "22")
            os.makedirs(sub, exist_ok=True)
            os.link(one, os.path.join(sub, name))
        rc = ts.rclone(tmp, s3.port, "copy", "--transfers", "16", many, f"s3:{ts.BUCKET}/heads")
        assert rc.returncode == 0, rc.stderr[-2000:]

        def ls_time(prefix, n):
            times = []
            for _ in range(max(1, ROUNDS // 2)):
                t0 = time.perf_counter()
                out = subprocess.run([CRASHBOX, "ls", f"s3://{ts.BUCKET}/{prefix}", "--json", "--endpoint",
                                      f"http://127.0.0.1:{s3.port}"], env=env, capture_output=True)
                assert out.returncode == 0, out.stderr[-2000:]
                times.append(time.perf_counter() - t0)
            rows = json.loads(out.stdout)
            assert len(rows) == n, out.stdout[:300]
            # summaries from the segments (rclone's copies carry no crashbox metadata)
            assert prefix != "fleet" or all(r["fingerprint"] for r in rows), out.stdout[:300]
            return statistics.median(times)

        seg, head = ls_time("fleet", FLEET_BUNDLES), ls_time("heads", HEAD_BUNDLES)
        per = seg / FLEET_BUNDLES
        scaled = "" if FLEET_BUNDLES == 10000 else f", {per * 10000:.1f} s scaled to 10,000"
        report(f"crashbox ls s3:// over {FLEET_BUNDLES:,} shipped bundles (listing + index segments, "
               "s3rver on loopback)",
               f"{seg:.2f} s{scaled}; one HEAD a bundle instead (no segments): {head:.2f} s for "
               f"{HEAD_BUNDLES:,}, {head / HEAD_BUNDLES * 10000:.1f} s scaled to 10,000",
               "10,000 under 5 s", per * 10000 < 5)
    finally:
        s3.stop()


def machine():
    model = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = open("/proc/meminfo").readline().split()[1]
    return f"{os.cpu_count()} cores ({model}), {int(mem) // 1024 // 1024} GiB, Linux {os.uname().release}"


def write_markdown(path):
    with open(path, "w") as f:
        f.write("# crashbox benchmarks\n\n")
        f.write(f"Written by `make bench` on {time.strftime('%Y-%m-%d', time.gmtime())}, on {machine()}.\n")
        f.write(f"Load average at the end of the run: {open('/proc/loadavg').read().split()[0]} "
                "(other work on the machine inflates every figure).\n")
        f.write(f"Every ratio is against a baseline measured in the same run; medians of {ROUNDS} rounds "
                "unless said otherwise. These machines are shared and noisy: read ratios, not absolutes.\n\n")
        f.write("| figure | result | target | |\n|---|---|---|---|\n")
        for fig, val, target, verdict in RESULTS:
            f.write(f"| {fig} | {val} | {target} | {verdict} |\n")
        gaps = [r for r in RESULTS if r[3] == "GAP"]
        f.write("\n## Gaps\n\n")
        if not gaps:
            f.write("None in this run.\n")
        for fig, val, target, _ in gaps:
            f.write(f"* {fig}: {val}, target {target}.\n")
        f.write("\nWhere start-up goes (strace -f -c of `crashbox-static -- /bin/true`, issue 15): 163 system calls "
                "against tini-static's 60 (`/bin/true` itself makes 29); 221 before this round's start-up work, 295 "
                "before the self-sandbox work, 370 before the exit-hook work. With the lazy relay thread and the "
                "start-up memory release merged from main: 149 calls and 114 page faults, task-clock 1.71 ms against "
                "tini-static's 1.13. This VM has no hardware counters: the costs below come from perf record "
                "(cpu-clock, 3000 starts), perf stat of syscall tracepoints, microbenchmarks, and interleaved A/B "
                "runs (25 rounds of `perf stat -r 30` each, medians). Done in earlier rounds: fixed BPF programs "
                "built without libseccomp for the exit hook (a clean exit_group goes on in the kernel) and the "
                "self-sandbox, notifications read by raw ioctls, one read of /proc/self/status instead of 62 "
                "rt_sigaction, the cgroup read once at start. This round: (1) the run loop stops polling the exit "
                "hook's listener once it hangs up: when the service ended, the listener reported POLLHUP and the loop "
                "woke on it until SIGCHLD was read, some 120 times a start under the bench's loop (perf stat of the "
                "poll tracepoint), 3.6 now; how long it spun depended on the machine's load, which is much of why "
                "this figure swung between runs. (2) The self-sandbox's allowlist is a search tree (92 instructions, "
                "at most 14 walked) instead of a list of 114 compares: at install the kernel runs the filter once per "
                "syscall number, under a lock with interrupts off, to cache the calls it always allows; an install "
                "went from 136 µs to 37 µs (medians of 200 in fresh children; an empty filter costs 13 µs). (3) The "
                "service's child shares crashbox's memory until its execve (CLONE_VM | CLONE_VFORK, as posix_spawn; "
                "forked when it has a sandbox to apply, and under ASan): a fork copied the page tables and "
                "write-protected every page crashbox had written, each a fault at its next write; page faults of a "
                "start went from 155 to 125 (tini-static 94). (4) The dynamic build links libseccomp and libzstd in, "
                "so only libc is loaded: page faults 234 to 162 (tini 129), 0.38 ms less task-clock in an A/B of the "
                "same objects. (5) Under the allowlist the bounding set is left as it is: it limits what an execve "
                "can give, the filter allows none, and no_new_privs would keep one to what crashbox holds; the 34 "
                "prctl as root, each a new set of credentials (1.7 µs here), are kept for when there is no filter, "
                "and skip what crashbox no longer holds. (6) libcap is gone: its constructor probed the last "
                "capability (6 prctl) for two name lookups, now a table the unit tests check against libcap. (7) One "
                "packet socket carries the exit hook's listener and the child's failures (a pipe2 and three close "
                "fewer); the child resets only the ignored signals (execve resets caught ones); one poll checks fds "
                "0-2. Task-clock of a start, before and after: static 2.19 to 1.74 ms (tini-static 1.22: 1.80 to 1.43 "
                "times), dynamic 2.53 to 1.94 ms (tini 1.37: 1.85 to 1.42 times). What remains, as shares of "
                "crashbox's own samples: page faults 17% (17 of the 31 faults more than tini-static's zero the 70 KB "
                "struct capture on the stack, 9 grow the heap); the two seccomp filters 6.5% (the exit hook's, "
                "installed in the child, 25 µs, and the self-sandbox's, 37 µs: the JIT and the allocation, the price "
                "of any filter); reading the memory cgroup at start 5.9% (/proc/self/mountinfo alone 33 µs, "
                "/proc/PID/cgroup and four memory files 35 µs more); the child's clone 5.2%; the relay thread 3.8% "
                "(the process's first thread: glibc's thread set-up, an 8 MiB stack, clone3; 60 to 200 µs to create "
                "and 30 to 90 µs to join in a microbenchmark); and /proc/PID/exe, 20 µs. glibc's start-up in a static "
                "binary (cpuid, slow in a VM) is some 40% of crashbox's samples and as much of tini-static's.\n")
        f.write("\nStart-up, the next round (issue 15's last gap), measured per phase with the main thread's CPU "
                "clock read at 25 points of a start (500 starts, medians; an instrumented build, not committed): "
                "627 µs from crashbox's first constructor to its last destructor before it, 456 µs after. (1) The "
                "memory cgroup's baseline (the oom_kill count before the service can be killed: how an OOM kill is "
                "told from a SIGKILL) took 176 µs, /proc/self/mountinfo alone 68 µs in a cold process (37-51 µs "
                "warm: the kernel prints a line per mount, and the read that finds the end walks them again). The "
                "mount where /proc/self/cgroup's hierarchy is by convention is now asked of the kernel alone (statx "
                "for its id, statmount for its root, type and options: Linux 6.8, 6.11 for a v1 hierarchy's "
                "controllers), and the whole table read only for what that does not place (a kernel or a seccomp "
                "profile without statmount, a hierarchy mounted elsewhere: both tested); /proc/self/cgroup and each "
                "memory file are one read (a cgroup attribute is printed whole at the first): 115 µs. (2) The "
                "service's child shares crashbox's fd table until its exit hook is in (CLONE_FILES, then "
                "unshare): the listener lands in crashbox's table, no socketpair, sendmsg and recvmsg; where "
                "unshare(2) is refused (Docker's default profile, probed once with unshare(0)) or a deny list must "
                "come last, the socket as before. Its stack is in the spawning frame instead of an mmap and an "
                "munmap (a TLB shootdown on the CPU the child ran on). Spawning: 75 to 40 µs. (3) The self-sandbox's "
                "filter opens with an instruction the kernel's action cache cannot emulate: the cache is built at "
                "install by running the program for every syscall number of both architectures, 20 of the "
                "install's 65 µs, and crashbox makes too few calls for it to pay back (each now runs the "
                "program's 14 instructions, 20 to 75 ns). (4) The stderr tail's rings are mapped at their first "
                "byte: a service quiet on stderr costs no two 8 MiB mappings and unmappings. (5) The run's end "
                "no longer zeroes the 31 KiB of diagnosis samples it reads only up to their count: eight page "
                "faults (2 µs an anonymous fault on these VMs). System calls of `crashbox-static -- /bin/true` "
                "149 to 128 (tini-static 60; /bin/true's own 29), page faults 115 to 109 (94). The bench's own "
                "start-up loop, interleaved, 31 rounds of 100 starts, four runs: CPU 1.35-1.42 of tini-static "
                "before, 1.15-1.24 after; wall 1.13-1.28 before, 1.06-1.18 after (the same build swings by 0.07 "
                "between runs on this VM). What is left is what crashbox does that tini does not, each measured "
                "the same way: the memory cgroup's baseline (115 µs cold), the self-sandbox (59 µs: capabilities, "
                "and 45 µs for the kernel to JIT 94 instructions, which this kernel always does, "
                "CONFIG_BPF_JIT_ALWAYS_ON), /proc/self/status (35 µs: the dispositions the child resets, the "
                "bounding set), the exit hook's filter in the child (25 µs), the service's executable opened for "
                "its build info after an OOM kill (20 µs, and the /proc/PID dentries the kernel drops at the reap), "
                "oom_score_adj (16 µs). Tried and left: /proc/self/stat instead of status saves 5 µs and has no "
                "bounding set; skipping the baseline for a service that has already ended would lose the OOM "
                "kill of one that dies at once.\n")
        f.write("\nStart-up and the bundle directory: no scan at start reads the bundle directory. State files "
                "and the temporary files of bundle writers both live in `.crashbox-run/` (a writer creates its "
                "file there, flock'd, and renames it into the bundle directory: one filesystem, atomic), so the "
                "start lists only that for a dead writer's leftovers. The start-up figure alone, run twice after "
                "the change: 10,000 bundles 0.81 and 0.90 of an empty directory's start (1.91 before).\n")
        f.write("\nIdle RSS: 100 ms after the service starts (the relay thread waits by then), crashbox gives back "
                "what start-up used (supervisor/crash/memrelease.c): every private file mapping it never wrote "
                "(its own text and read-only data; in the dynamic build each library's too) is unmapped with "
                "MADV_DONTNEED, the heap start-up freed is trimmed, and the main stack below the running frame "
                "goes. Which mappings qualify is read from /proc/self/smaps: one with an anonymous or swapped "
                "page (RELRO, relocated at start; data; a page a debugger or uprobe wrote) keeps its pages, so "
                "nothing is lost: a clean page stays in the page cache, and what runs later (a crash, a relayed "
                "line, a signal) faults it back: a minor fault while the page cache holds it, a read from the "
                "image once memory pressure has taken it (as it takes an idle process's mapped pages, only "
                "later). RSS counts what a process maps, so it now shows "
                "what the idle loop uses: one 64 KiB fault-around window of crashbox's code (the loop and the "
                "release sit together in .text.hot), two of libc's (poll and its cancellation wrapper) and RELRO, "
                "where tini-static keeps mapping the 650 kB its start-up touched. Measured side by side on a "
                "quiet machine (medians of 5, 1 s after start, stderr a pipe): static build 1360 KiB (anon 132, "
                "file 1228) before, 316 KiB (anon 100, file 216) after, tini-static 704 KiB (anon 52); dynamic "
                "build 2308 KiB (anon 212) before, 380 KiB (anon 184) after, tini 1372 KiB. What this does not "
                "change, and why the figure is still honest: the binary's pages stay in the page cache while the "
                "kernel keeps them (shared by every container of the image; unmapped clean pages are the first it "
                "reclaims, where mapped text is protected), and anonymous memory, which nothing reclaims without "
                "swap, is the cost each container pays: in the static build data 12 KiB, bss 16, RELRO's "
                "relocated pages 8, heap 20, main stack 40 (was 80: 31 KiB of pre-OOM samples were zeroed on the "
                "stack at every start, now allocated at the first watermark crossing) and the relay thread's 4. "
                "After a restart the figures are higher (the bundle writer's heap and arena, the end of the run's "
                "stack): this is the first run's.\n")
        f.write("\nThe relay: ordinary logs keep a 256 KiB tail (`log_tail_size`); the tail grows to `tail_size` "
                "only once a Go crash report starts, and gives its pages back (MADV_DONTNEED) when what followed "
                "was not a report. The bytes go out by tee(2) (page references, no copy) and each is read once "
                "into the tail, where its line starts are looked at: that copy and that look are the relay's "
                "CPU, and no design that sees every line start can avoid the copy (splice moves pages out of "
                "reach; vmsplice to user memory copies). Measured with perf (cpu-clock samples; these VMs have "
                "no hardware counters) on 512 MiB of log lines, the relay thread costs about 0.14-0.2 CPU-s a "
                "GiB (the figure above): about 35% the line-start scan, 28% the kernel's copy into the tail, "
                "15% poll, tee and FIONREAD, 6% switching; it wakes about 2,500 times for 512 MiB (200 KiB a "
                "wake; the service's pipe is 1 MiB, pipe-max-size here, and the writer never fills it), so "
                "system calls and wake-ups are not where the time goes, and sleeping between steps to batch "
                "more (tried: 0.1 to 1 ms) saved nothing. The scan now passes over 64 bytes at a time (SSE2: a "
                "newline followed by a byte in 'S'..'r', the range of every byte that may start a report) "
                "instead of a memchr call per line: 40 -> 28 ms a 512 MiB of fixed-length lines, 46 -> 28 ms "
                "of varied ones, in a micro-benchmark over the tail; the relay thread's own CPU (crashbox -v) "
                "went from about 105 to about 90 ms a 512 MiB, medians of 6 interleaved sets. Why the throughput ratio stays under 0.9 here: "
                "a plain pipe's pipeline is two processes, writer-bound, using about one core (pinned to one "
                "core it is as fast as on two); the relay adds a third that must run somewhere. With the other "
                "sessions' load, or pinned to one core (the figure above), the pipeline is CPU-bound and the "
                "throughput ratio is the CPU ratio, plain / (plain + relay): 0.36-0.39 / 0.5-0.56 CPU-s a GiB, "
                "about 0.7 (0.73-0.89 measured pinned). 0.9 would need the relay under 0.045 CPU-s a GiB, less than its copy alone (about "
                "0.05). Only with a core to spare can the relay run beside the writer and the ratio rise above "
                "the CPU ratio: interleaved runs of 7-11 rounds on two cores gave 0.51 to 0.95 for the same "
                "build as the other sessions' load (load average 3-7) came and went, and the plain pipe's own "
                "figure swings most (its 64 KiB pipe: on two cores the writer and reader spin on each other's "
                "pipe lock, doubling its CPU in some rounds). The relay thread starts "
                "at the service's first bytes, not at every start: a service silent on stderr costs no thread "
                "(crashbox-static -- /bin/true: 199 system calls instead of 212). Since 2026-12-03 the plain "
                "pipe is measured at its best, a 1 MiB pipe (the size crashbox gives the pipe it tees into; in "
                "a 64 KiB one the plain pipeline's rounds ran at 0.8 GiB/s, slower than crashbox's 2.3, and a "
                "median of its rounds had made the ratio anything from 0.68 to 2.79), and each pipeline at its "
                "fastest round and least CPU. So measured, the plain pipeline already keeps 1.8 of the 2 cores "
                "busy (0.73 CPU-s a GiB at 2.48 GiB/s), the relay adds 0.11 CPU-s a GiB (1.15 times, met), and "
                "the machine being saturated, the throughput ratio is about the CPU ratio, 0.85: 0.9 would need "
                "the relay under 0.08 CPU-s a GiB, where its one copy into the tail alone is some 0.05 and the "
                "line-start scan, tee and poll the rest. The scan now runs in 32-byte AVX2 halves where the CPU "
                "has them (chosen at run time; the unit tests run both): the relay thread's CPU on 512 MiB of "
                "log lines 141 to 123 ms, medians of 7 interleaved runs; the two-core ratio swings 0.84-0.88 "
                "between runs of the bench either way.\n")
        f.write("\nThe capture filter: its BPF program reads only the architecture and the syscall number on "
                "the path of every call but exit_group, kill, tkill and tgkill, so the kernel's seccomp action "
                "cache (since 5.11: seccomp_is_const_allow emulates the program with only arch and nr known) "
                "allows those without running it; perf shows no BPF run at all in a getppid loop under it. "
                "What remains is what any filter costs: a filtered task takes the slow syscall entry "
                "(syscall_trace_enter, __secure_computing, populate_seccomp_data, the cache look-up), about "
                "40 ns a call on these VMs against a 170 ns getppid: fastest of 15 rounds, no filter 173 ns, the "
                "capture filter 214, a one-instruction allow-all filter 219 (the same ratio; make bench "
                "reports both), a filter the cache cannot skip (one that loads an argument) 230. The 0.98 "
                "target cannot be met by any seccomp filter on the cheapest syscall "
                "here; the capture filter is within 2% of the least a filter costs, and a call that does real "
                "work pays the same 40 ns, a smaller share.\n")
        f.write("\nThe fleet listing: `crashbox ls s3://` reads the store's listing (1,000 keys a page) and the "
                "index segments the shipper wrote beside the bundles (one per batch, at most 256 KiB, GET 32 at "
                "a time), so 10,000 bundles cost 10 listing pages and a few dozen GETs instead of 10,000 HEADs. "
                "It is measured at full size: crashbox ship puts the 10,000 bundles into s3rver first. s3rver "
                "encrypts its continuation tokens with DES, which Node's OpenSSL 3 serves only from its legacy "
                "provider: the tests and this bench start it with NODE_OPTIONS=--openssl-legacy-provider, "
                "without which every listing past its first page answered 500 (the earlier \"s3rver fails "
                "above ~1,500 objects\"). The one-HEAD-a-bundle figure is measured on 1,000 bundles copied in "
                "by rclone and scaled linearly. A [ship] policy shipping one bundle per run writes one segment "
                "per bundle (segments are not compacted yet), and then ls pays a GET a bundle, about the HEAD "
                "path's cost.\n")
        f.write("\nThe memory poller (a read-only cgroupfs, where no threshold can be registered): each wake "
                "of it costs some 60 µs of CPU on these VMs, almost all of it the timer wake-up itself (a "
                "pread of the usage file is under 1 µs). Far below the watermarks it wakes a few times a "
                "second; a few MiB under one it wakes every 10-20 ms, which is what a service holding "
                "steady there pays, the price of seeing a 4 MiB burst before it passes the next "
                "watermark.\n")


def main():
    print(f"crashbox bench on {os.cpu_count()} cores, {ROUNDS} rounds, medians", flush=True)
    with tempfile.TemporaryDirectory(prefix="crashbox-bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        relay_throughput(tmp)
        exit_hook_overhead(tmp)
        crash_latency(tmp, "nil-deref", "typical panic", "50 ms")
        crash_latency(tmp, "goroutines-10k", "10,000-goroutine dump", "1 s")
        parse_speed(tmp)
        ls_scale(tmp)
        relay_memory(tmp)
        core_dump(tmp)
        ship_figures(tmp)
    idle_rss()
    with tempfile.TemporaryDirectory(prefix="crashbox-bench-mem-", dir=os.environ.get("BENCH_TMP")) as tmp:
        memory_polling(tmp)
    peers = available_peers()
    with tempfile.TemporaryDirectory(prefix="crashbox-bench-start-", dir=os.environ.get("BENCH_TMP")) as tmp:
        startup(peers, tmp)
    peer_rss(peers)
    signal_latency(peers)
    from containers import container_figures
    with tempfile.TemporaryDirectory(prefix="crashbox-bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        container_figures(tmp, ROUNDS, report)
    out = os.environ.get("BENCH_OUT", "BENCHMARKS.md")
    write_markdown(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
