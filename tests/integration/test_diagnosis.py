"""Memory verdicts end to end: a real Go program for each verdict is
OOM-killed in a real memory cgroup under crashbox with the Go shim, and the
bundle's diagnosis gives its verdict and no wrong one."""
import json
import os
import signal
import subprocess
import time

from bundles import manifest, member, members
from lib import CRASHBOX, EXAMPLES, children_of, kill_quietly, run, wait_line, write_policy
from test_capture import crashbox_was_the_victim, memory_cgroup, oom_attempts, oom_run, only_bundle, remove_cgroup
from test_show import check

VERDICTS = {"retained-heap", "goroutine-leak", "other-process", "page-cache", "gc-off",
            "memlimit-above-limit", "burst", "heap-growth"}


def oom(tmp, example, limit_mib=128, env=None):
    """Runs the example in a memory cgroup until the OOM killer ends it;
    returns the manifest and the bundle's path."""
    pol = write_policy(tmp, "[capture]\ngo_shim = yes\n", "shim.policy")
    _, d = oom_run(tmp, limit_mib << 20, f"{EXAMPLES}/{example}", policy=pol, timeout=180,
                   env=dict(os.environ, **(env or {})))
    b = only_bundle(d)
    m = manifest(b)
    assert m["crash"]["kind"] == "oom-kill", m["crash"]
    return m, b


def verdicts(m, want, also_true=(), bundle=None):
    """The verdicts include want; any other is one of also_true (true of
    the story too, e.g. heap-growth beside gc-off). With the bundle, show's
    text of each verdict in want is checked against its golden
    (tests/golden/show/verdict-*.txt), from this run, not one more OOM."""
    got = {v["verdict"]: v for v in m["diagnosis"]}
    assert set(got) <= VERDICTS, got
    for w in want:
        assert w in got, (w, m["diagnosis"], m["memory"].get("watermarks_crossed"))
    wrong = set(got) - set(want) - set(also_true)
    assert not wrong, (wrong, m["diagnosis"])
    if bundle:
        check("verdict-" + want[0], bundle, keep=want)
    return got


def test_heap_growth_names_the_allocation_site(tmp):
    m, b = oom(tmp, "oom-heap-growth")
    v = verdicts(m, ["heap-growth"], bundle=b)["heap-growth"]
    assert v["figures"]["site1_function"] == "main.cacheEntry", v
    assert "main.cacheEntry" in v["text"]
    show = run([CRASHBOX, "show", b])
    lines = show.stdout.decode().splitlines()
    assert lines[1] == "  verdict    heap-growth", lines[:4]


def test_burst_from_the_first_watermark_to_the_kill(tmp):
    m, b = oom(tmp, "oom-burst")
    for attempt in range(2):
        crossed = m["memory"].get("watermarks_crossed") or []
        if not crossed or crossed[0]["before_end_ms"] <= 500 or "burst" in [v["verdict"] for v in m["diagnosis"]]:
            break
        # The kill came late: the kernel's reclaim near the limit, or a
        # loaded machine, held it back (seen: 1.8 s and 0.96 s from 80% to
        # the kill, 26 MiB/s, where the burst takes 0.05-0.25 s). Not the
        # story the example stages: it runs again.
        retry = os.path.join(tmp, f"again{attempt}")
        os.makedirs(retry)
        m, b = oom(retry, "oom-burst")
    v = verdicts(m, ["burst"], also_true=["heap-growth"], bundle=b)["burst"]
    assert v["figures"]["first_watermark_to_kill_ms"] <= 2500, v
    assert v["figures"]["mib_per_s"] >= 16, v


def test_goroutine_leak_names_the_waiting_function(tmp):
    m, b = oom(tmp, "oom-goroutine-leak")
    v = verdicts(m, ["goroutine-leak"], bundle=b)["goroutine-leak"]
    assert v["figures"]["stack_inuse_bytes"] >= v["figures"]["heap_inuse_bytes"], v
    assert v["figures"]["largest_group_function"] == "main.awaitBackend", v
    # The aggregated profile, not the full dump. Not necessarily at the
    # verdict's watermark: the kill may come before the 95% one's profile
    # (the verdict then groups an earlier one).
    profiles = [n for n in members(b) if n.endswith("/go/goroutines.txt")]
    assert profiles, members(b)
    for n in profiles:
        assert member(b, n).startswith(b"goroutine profile: total "), n


def test_a_second_process_in_the_cgroup_is_named(tmp):
    # golang/go#73490: GOGC=off with a GOMEMLIMIT below the limit is sound
    # settings; the app's own crash watcher holds the memory that is missing.
    m, b = oom(tmp, "oom-other-process", env={"GOGC": "off", "GOMEMLIMIT": "90MiB"})
    v = verdicts(m, ["other-process"], bundle=b)["other-process"]
    assert v["figures"]["comm"] == "oom-other-proce", v  # comm is cut at 15 bytes
    assert v["figures"]["pid"] != m["pid"]
    assert v["figures"]["rss_bytes"] >= 50 << 20, v


def test_tmpfs_pages_are_page_cache(tmp):
    m, b = oom(tmp, "oom-page-cache")
    v = verdicts(m, ["page-cache"], bundle=b)["page-cache"]
    assert v["figures"]["shmem_bytes"] >= 32 << 20, v


def test_gogc_off_without_a_memory_limit(tmp):
    m, b = oom(tmp, "oom-garbage", env={"GOGC": "off"})
    v = verdicts(m, ["gc-off"], also_true=["heap-growth"], bundle=b)["gc-off"]
    assert v["figures"]["gogc_percent"] == -1 and v["figures"]["settings_from"] == "runtime", v


def test_gomemlimit_above_the_containers_limit(tmp):
    m, b = oom(tmp, "oom-garbage", env={"GOGC": "off", "GOMEMLIMIT": "1GiB"})
    got = verdicts(m, ["memlimit-above-limit", "gc-off"], also_true=["heap-growth"], bundle=b)
    assert got["memlimit-above-limit"]["figures"]["gomemlimit_bytes"] == 1 << 30


def test_retained_heap_after_a_burst(tmp):
    # The "2 AM" story: GOGC=300 kept a burst's freed pages idle under the
    # heap goal; then memory that is not the heap's met the limit. The
    # runtime keeps those pages (see the example), and the shim's snapshots
    # leave them be (shim.go, outgrownBy): each runtime view shows them, and
    # no GC ran between the first and the last.
    m, b = oom(tmp, "oom-retained-heap", limit_mib=256)
    crossed = [w["percent"] for w in m["memory"]["watermarks_crossed"]]
    runtime = {n.split("/")[1]: json.loads(member(b, n)) for n in members(b) if n.endswith("/go/runtime.json")}
    assert crossed[:1] == [80] and "80" in runtime, (crossed, sorted(runtime))
    for pct, r in runtime.items():
        assert r["heap_idle"] - r["heap_released"] >= 96 << 20, (pct, r)
    assert len({r["num_gc"] for r in runtime.values()}) == 1, runtime
    v = verdicts(m, ["retained-heap"], also_true=["burst"], bundle=b)["retained-heap"]
    f = v["figures"]
    assert f["watermark_percent"] == 80, v
    assert f["heap_idle_bytes"] - f["heap_released_bytes"] >= 96 << 20, v
    assert 40 << 20 <= f["heap_inuse_bytes"] < 56 << 20, v
    assert f["rss_bytes"] >= f["heap_inuse_bytes"] + f["heap_idle_bytes"] - f["heap_released_bytes"], v


def test_a_childs_oom_kill_is_its_own_event_and_a_later_kill_9_is_a_signal(tmp):
    # The story: a child OOM-killed, the service fine; 4 s later an
    # operator's kill -9 of the service. That is a signal, not an OOM kill,
    # and the child's OOM kill is said at once and in the bundle.
    def once(run_dir):
        cg = memory_cgroup(run_dir, 96 << 20)
        d = os.path.join(run_dir, "b")
        os.makedirs(d)
        svc = f"{EXAMPLES}/unbounded-alloc; echo child-done; exec sleep 60"
        prom = os.path.join(run_dir, "crashbox.prom")
        pol = write_policy(run_dir, f"[metrics]\ntextfile = {prom}\n", "metrics.policy")
        script = f"echo $$ > {cg}/cgroup.procs && exec {CRASHBOX} -d {d} -p {pol} -- sh -c '{svc}'"
        p = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            try:
                wait_line(p.stdout, "child-done", timeout=60)
            except AssertionError:
                # Here crashbox (about 700 pages) was killed beside the
                # service's sh (380).
                if crashbox_was_the_victim(p.poll()):
                    return None
                raise
            time.sleep(4)
            service = children_of(p.pid)
            assert len(service) == 1, service
            os.kill(service[0][0], signal.SIGKILL)
            _, err = p.communicate(timeout=30)
        finally:
            kill_quietly(p)
            remove_cgroup(cg)
        return p, err, prom, d
    p, err, prom, d = oom_attempts(tmp, once)
    assert p.returncode == 128 + signal.SIGKILL
    said = [l for l in err.decode().splitlines() if "the OOM killer ended" in l]
    assert said and "the service (pid" in said[0], err.decode()[-2000:]
    m = manifest(only_bundle(d))
    assert m["crash"]["kind"] == "signal", m["crash"]
    assert m["memory"]["descendant_oom_kills"] >= 1, m["memory"]
    assert m["memory"]["descendant_oom_last"]
    show = run([CRASHBOX, "show", only_bundle(d)]).stdout.decode()
    assert "OOM kill" in show and "outlived" in show, show
    lines = show.splitlines()
    note = lines.index([l for l in lines if l.startswith("  note ")][0])
    assert len(lines[note]) <= 80 and len(lines[note + 1]) <= 80, show
    assert 'crashbox_outlived_oom_kills_total{service="sh"} 1' in open(prom).read()


def test_a_descendant_still_writing_gets_the_grace_and_the_rest_are_listed(tmp):
    # The app's own crash watcher is still writing when the service dies:
    # it gets the descendant grace, said at info, and finishes; an idle
    # leftover is ended at once; the bundle lists both.
    d = os.path.join(tmp, "b")
    out = os.path.join(tmp, "report.txt")
    watcher = f"i=0; while [ $i -lt 20 ]; do echo line >> {out}; i=$((i+1)); sleep 0.05; done"
    svc = f"sh -c '{watcher}' & sleep 60 & sleep 0.2; exit 3"
    r = run([CRASHBOX, "-d", d, "--", "sh", "-c", svc])
    assert r.returncode == 3, r.stderr
    err = r.stderr.decode()
    assert "is still working" in err and "descendant_grace" in err, err
    assert open(out).read().count("line") == 20, "the watcher finished its report"
    m = manifest(only_bundle(d))
    left = {o["comm"]: o for o in m["left_behind"]}
    assert left["sleep"]["signal"] == "SIGTERM" and not left["sleep"]["given_grace"], left
    assert left["sh"]["signal"] is None and left["sh"]["given_grace"], left
