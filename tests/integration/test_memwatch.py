"""Memory foresight on a read-only cgroupfs, as container engines mount it:
the service's real memory cgroup is bind-mounted read-only over itself in a
private mount namespace, so registering a threshold fails with EROFS, and
crashbox must watch by polling."""
import os
import shlex
import shutil
import signal
import subprocess

from bundles import list_bundles, manifest, members
from lib import CRASHBOX, EXAMPLES, Skip, kill_quietly, wait_line, write_policy
from test_capture import crashbox_was_the_victim, memory_cgroup, oom_attempts, only_bundle, remove_cgroup, v2_fixture_tree


def run_read_only(tmp, cg, args, policy=None, timeout=120):
    """Runs crashbox in cg, with cg read-only for it."""
    if not shutil.which("unshare"):
        raise Skip("no unshare(1) to make a private mount namespace")
    d = os.path.join(tmp, "b")
    os.makedirs(d, exist_ok=True)
    q = shlex.quote(cg)
    cmd = [CRASHBOX, "-d", d] + (["-p", policy] if policy else []) + ["--"] + args
    inner = f"mount --bind {q} {q} && mount -o remount,bind,ro {q} && exec {shlex.join(cmd)}"
    script = f"echo $$ > {q}/cgroup.procs && exec unshare -m sh -c {shlex.quote(inner)}"
    r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=timeout)
    if b"unshare: " in r.stderr or b"mount: " in r.stderr:
        raise Skip("cannot make the cgroup read-only here: " + r.stderr.decode(errors="replace")[-300:])
    return r, d


def oom_read_only(tmp, limit, args, policy=None):
    """run_read_only in a fresh memory cgroup of limit bytes, where the OOM
    killer ends the service: (r, d, whether the cgroup is v1). Again when
    crashbox was the OOM killer's victim (oom_attempts)."""
    def once(run_dir):
        cg = memory_cgroup(run_dir, limit)
        try:
            r, d = run_read_only(run_dir, cg, args, policy=policy)
        finally:
            remove_cgroup(cg)
        return None if crashbox_was_the_victim(r.returncode) else (r, d, v1(cg))
    return oom_attempts(tmp, once)


def ordered_subset(crossed):
    return crossed == sorted(set(crossed)) and set(crossed) <= {80, 90, 95}


def v1(cg):
    return cg.startswith("/sys/fs/cgroup/memory/")


def test_a_read_only_memory_cgroup_is_watched_by_polling(tmp):
    # 4 MiB every 20 ms: 80 -> 95 % of 128 MiB in about 100 ms.
    r, d, is_v1 = oom_read_only(tmp, 128 << 20, [f"{EXAMPLES}/unbounded-alloc", "20ms"])
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 128 + signal.SIGKILL, (r.returncode, err[-1500:])
    assert "cannot watch the memory cgroup" not in err, err
    assert "info: the memory cgroup is not writable" in err and "Read-only file system" in err, err
    assert err.count("is not writable") == 1, "said once"
    b = only_bundle(d)
    man = manifest(b)
    assert man["crash"]["kind"] == "oom-kill", man["crash"]
    watch = man["memory"]["watch"]
    assert watch["by"] == ("poll" if is_v1 else "events+poll"), watch
    assert watch["registration_refused"] == "Read-only file system", watch
    assert watch["polls"] > 3 and watch["poll_min_ms"] <= 20, watch
    crossed = [w["percent"] for w in man["memory"]["watermarks_crossed"]]
    # 80 % has some 60 ms (three 4 MiB steps) above it before 90 %; polling
    # near it runs every 10-20 ms. A later one may be passed over while an
    # earlier snapshot is being taken (one rise, one snapshot, at the
    # highest reached): on a loaded machine that can take 100 ms.
    assert crossed[:1] == [80] and ordered_subset(crossed), man["memory"]["watermarks_crossed"]
    names = members(b)
    for pct in crossed:
        assert f"pre-oom/{pct}/proc/status" in names and f"pre-oom/{pct}/cgroup/memory.stat" in names, pct
    assert [f for f in os.listdir(d) if f.startswith(".crashbox-pending")] == []
    show = subprocess.run([CRASHBOX, "show", b], capture_output=True, timeout=30).stdout.decode()
    assert "  watched    poll" in show or "  watched    events+poll" in show, show
    assert "registration refused: Read-only file system" in " ".join(show.split()), show


def test_a_read_only_memory_cgroup_falls_back_by_polling(tmp):
    cg = memory_cgroup(tmp, 96 << 20)
    try:
        # 80 MiB held for 300 ms, then given back: the 80 % snapshot is
        # taken by polling, then dropped.
        r, d = run_read_only(tmp, cg, [f"{EXAMPLES}/memory-spike"])
    finally:
        remove_cgroup(cg)
    assert r.returncode == 0, r.stderr[-1500:]
    assert b"crossed the 80% watermark" in r.stderr, r.stderr[-1500:]
    assert list_bundles(d) == [], "memory fell back: nothing kept"
    assert [f for f in os.listdir(d) if f.startswith(".crashbox-pending")] == []


def test_a_read_only_memory_cgroup_with_polling_off_says_why(tmp):
    pol = write_policy(tmp, "[memory]\npoll = no\n")
    r, d, is_v1 = oom_read_only(tmp, 96 << 20, [f"{EXAMPLES}/unbounded-alloc", "20ms"], policy=pol)
    assert r.returncode == 128 + signal.SIGKILL, r.stderr[-1500:]
    b = only_bundle(d)
    watch = manifest(b)["memory"]["watch"]
    show = subprocess.run([CRASHBOX, "show", b], capture_output=True, timeout=30).stdout.decode()
    assert b"info: the memory cgroup is not writable" in r.stderr, r.stderr[-1500:]
    if is_v1:
        assert b"not watching memory: cgroup not writable and polling disabled" in r.stderr, r.stderr[-1500:]
        assert watch["by"] is None and watch["why_none"] == "cgroup not writable and polling disabled", watch
        assert manifest(b)["memory"]["watermarks_crossed"] == []
        assert "  watched    nothing: cgroup not writable and polling disabled" in show, show
    else:
        assert watch["by"] == "events", watch  # memory.events needs no write


def test_without_a_memory_limit_the_manifest_says_nothing_watched(tmp):
    d = os.path.join(tmp, "b")
    r = subprocess.run([CRASHBOX, "-d", d, "--", "sh", "-c", "kill -SEGV $$"], capture_output=True, timeout=30)
    assert r.returncode == 128 + signal.SIGSEGV
    man = manifest(only_bundle(d))
    if man["memory"]["limit_bytes"] is not None:
        raise Skip("this test's own cgroup has a memory limit")
    why = "no memory cgroup" if man["memory"]["cgroup_version"] is None else "no memory limit"
    assert man["memory"]["watch"] == {"by": None, "why_none": why, "registration_refused": None}, \
        man["memory"]["watch"]


def test_a_restarted_service_is_polled_again(tmp):
    # Each run opens its own watch; the timer of the last must not linger.
    pol = write_policy(tmp, "[restart]\nmode = on-crash\nmin_delay = 0s\nburst = 1\n")
    r, d, _ = oom_read_only(tmp, 128 << 20, [f"{EXAMPLES}/unbounded-alloc", "20ms"], policy=pol)
    assert r.returncode == 128 + signal.SIGKILL, r.stderr[-1500:]
    bundles = list_bundles(d)
    assert len(bundles) == 2, (bundles, r.stderr[-1500:])
    for b in bundles:
        mem = manifest(os.path.join(d, b))["memory"]
        assert mem["watch"]["by"].endswith("poll") and mem["watch"]["polls"] > 3, mem["watch"]
        crossed = [w["percent"] for w in mem["watermarks_crossed"]]
        assert crossed and ordered_subset(crossed), (b, mem)


def test_cgroup_v2_read_only_fixture_tree_keeps_memory_events_and_polls(tmp):
    # No v2 memory controller here (a hybrid host): a fixture tree stands in
    # for /sys/fs/cgroup, bind-mounted read-only so the PSI trigger's write
    # fails with EROFS, as in a container. The test plays the kernel by
    # rewriting memory.current; crashbox must see it by polling.
    if not shutil.which("unshare"):
        raise Skip("no unshare(1) to make a private mount namespace")
    root, cg = v2_fixture_tree(tmp, {
        "memory.max": "134217728\n", "memory.current": "8388608\n",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
        "memory.stat": "anon 8388608\n", "memory.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"})
    d = os.path.join(tmp, "b")
    os.makedirs(d)
    q = shlex.quote(root)
    cmd = [CRASHBOX, "-d", d, "--", "sh", "-c", "echo ready; read x; kill -9 $$"]
    inner = f"mount --bind {q} {q} && mount -o remount,bind,ro {q} && exec {shlex.join(cmd)}"
    env = dict(os.environ, CRASHBOX_CGROUP_ROOT=root)
    p = subprocess.Popen(["unshare", "-m", "sh", "-c", inner], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    try:
        try:
            wait_line(p.stdout, "ready")
        except AssertionError:
            raise Skip("cannot make the fixture read-only here: " + p.stderr.read().decode(errors="replace"))
        with open(os.path.join(cg, "memory.current"), "w") as f:
            f.write(f"{110 << 20}\n")  # 86% of 128 MiB
        seen = wait_line(p.stderr, "crashbox: info: memory at 115343360 of 134217728 bytes crossed the 80% "
                                   "watermark: pre-OOM snapshot")
        assert any("not writable (a PSI trigger: Read-only file system): watching memory by events+poll" in l
                   for l in seen), seen
        with open(os.path.join(cg, "memory.events"), "w") as f:
            f.write("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
        p.stdin.write(b"go\n")
        p.stdin.close()
        assert p.wait(timeout=30) == 128 + signal.SIGKILL
    finally:
        kill_quietly(p)
    b = only_bundle(d)
    mem = manifest(b)["memory"]
    assert manifest(b)["crash"]["kind"] == "oom-kill"
    assert mem["watch"]["by"] == "events+poll" and mem["watch"]["registration_refused"] == "Read-only file system"
    assert [w["percent"] for w in mem["watermarks_crossed"]] == [80], mem["watermarks_crossed"]
    assert "pre-oom/80/cgroup/memory.current" in members(b)

