"""Finding the service's memory cgroup where the cgroup filesystem is mounted
as a container engine mounts it: crashbox runs in a mount namespace of its
own, the way a container's entrypoint does."""
import os
import shutil
import signal
import subprocess

from bundles import manifest
from lib import CRASHBOX, EXAMPLES, Skip, need_root, need_strace
from test_capture import crashbox_was_the_victim, memory_cgroup, oom_attempts, only_bundle, remove_cgroup


def need_unshare():
    need_root("a mount namespace")
    if not shutil.which("unshare"):
        raise Skip("no unshare(1) here")
    r = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if r.returncode != 0:
        raise Skip(f"cannot make a mount namespace: {r.stderr.decode().strip()}")


def show(path):
    r = subprocess.run([CRASHBOX, "show", path], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    i = [k for k, l in enumerate(lines) if l.startswith("  memory ")][0]
    # The memory field and its second line (cgroup version, OOM kills), if any.
    more = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith(" " * 13) else ""
    return lines[i] + ("; " + more.strip() if more else "")


def test_oom_kill_where_the_mount_shows_the_services_own_cgroup(tmp):
    # What Docker does with --cgroupns host: the container's cgroup itself is
    # mounted at the hierarchy's usual place (mountinfo root /.../crashbox-mem-…)
    # while /proc/self/cgroup still names the full path from the top.
    need_unshare()

    def once(run_dir):
        cg = memory_cgroup(run_dir, 96 << 20)
        v1 = os.path.exists(os.path.join(cg, "memory.limit_in_bytes"))
        mnt = "/sys/fs/cgroup/memory" if v1 else "/sys/fs/cgroup"
        try:
            d = os.path.join(run_dir, "b")
            os.makedirs(d)
            inner = (f"mount --bind {cg} {mnt} && test ! -e {mnt}/{os.path.basename(cg)} && "
                     f"exec {CRASHBOX} -d {d} -- {EXAMPLES}/unbounded-alloc")
            script = f"echo $$ > {cg}/cgroup.procs && exec unshare -m --propagation private sh -c '{inner}'"
            r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=120)
            if crashbox_was_the_victim(r.returncode):
                return None  # about one run in 30, old builds alike
            assert r.returncode == 128 + signal.SIGKILL, (r.returncode, r.stderr[-1000:])
            return d, mnt, v1
        finally:
            remove_cgroup(cg)
    d, mnt, v1 = oom_attempts(tmp, once)
    path = only_bundle(d)
    man = manifest(path)
    assert man["crash"]["kind"] == "oom-kill", man["crash"]
    mem = man["memory"]
    assert mem["cgroup_path"] == mnt, mem
    assert mem["limit_bytes"] == 96 << 20
    assert mem["oom_kills"] > mem["oom_kills_at_start"]
    assert "cgroup" not in [m["item"] for m in man["snapshot"]["missing"]]
    line = show(path)
    assert "limit 96MiB" in line and f"cgroup v{1 if v1 else 2}" in line, line


def test_no_cgroup_filesystem_says_so_in_the_bundle_and_in_show(tmp):
    need_unshare()
    if not os.path.ismount("/sys/fs/cgroup"):
        raise Skip("/sys/fs/cgroup is not a mount here")
    d = os.path.join(tmp, "b")
    os.makedirs(d)
    inner = f"umount -R /sys/fs/cgroup && exec {CRASHBOX} -d {d} -- {EXAMPLES}/nil-deref"
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", inner], capture_output=True,
                       timeout=120)
    assert r.returncode == 2, (r.returncode, r.stderr[-1000:])
    path = only_bundle(d)
    man = manifest(path)
    assert man["memory"]["cgroup_version"] is None and man["memory"]["limit_bytes"] is None
    missing = {m["item"]: m["reason"] for m in man["snapshot"]["missing"]}
    assert missing.get("cgroup") == "no cgroup filesystem is mounted", missing
    line = show(path)
    assert line == "  memory     no memory cgroup (no cgroup filesystem is mounted)", line


def strace_opens(script, trace, timeout=120):
    r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=timeout)
    with open(trace) as f:
        return r, f.read()


def test_the_memory_cgroup_is_placed_without_reading_the_mount_table(tmp):
    # statx(2) and statmount(2) on /sys/fs/cgroup/...: the kernel prints no
    # line of the mount table (issue 15: it was a tenth of a start).
    need_strace()
    rel = tuple(int(x) for x in os.uname().release.split(".")[:2])
    if rel < (6, 11):
        raise Skip(f"Linux {os.uname().release}: statmount names a v1 hierarchy's controllers from 6.11 on "
                   "(before, crashbox reads the mount table)")
    cg = memory_cgroup(tmp, 256 << 20)
    try:
        d, trace = os.path.join(tmp, "b"), os.path.join(tmp, "trace")
        os.makedirs(d)
        script = (f"echo $$ > {cg}/cgroup.procs && exec strace -f -qq -e trace=openat,statx -o {trace} "
                  f"{CRASHBOX} -d {d} -- {EXAMPLES}/nil-deref")
        r, t = strace_opens(script, trace)
        assert r.returncode == 2, (r.returncode, r.stderr[-1000:])
        mem = manifest(only_bundle(d))["memory"]
        assert mem["cgroup_path"] == cg and mem["limit_bytes"] == 256 << 20, mem
        assert 'statx(AT_FDCWD, "/sys/fs/cgroup' in t, t[-3000:]
        # (The snapshot's copy of the service's own, openat(<its /proc dir>,
        # "mountinfo"), is the bundle's, not a look-up.)
        assert "/proc/self/mountinfo" not in t, [l for l in t.splitlines() if "mountinfo" in l]
    finally:
        remove_cgroup(cg)


def test_a_cgroup_mounted_elsewhere_is_found_in_the_mount_table(tmp):
    # Nothing at the conventional places (the cgroup mounts gone, a tmpfs
    # there), the memory hierarchy mounted under the test's directory: what
    # statmount does not place, the whole mount table does.
    need_unshare()
    need_strace()
    cg = memory_cgroup(tmp, 256 << 20)
    v1 = os.path.exists(os.path.join(cg, "memory.limit_in_bytes"))
    top = "/sys/fs/cgroup/memory" if v1 else "/sys/fs/cgroup"
    mnt = os.path.join(tmp, "elsewhere")
    os.makedirs(mnt)
    try:
        d, trace = os.path.join(tmp, "b"), os.path.join(tmp, "trace")
        os.makedirs(d)
        how = "-t cgroup -o memory cgroup" if v1 else "-t cgroup2 cgroup2"
        inner = (f"umount -R /sys/fs/cgroup && mount -t tmpfs none /sys/fs/cgroup && mount {how} {mnt} && "
                 f"exec strace -f -qq -e trace=openat -o {trace} {CRASHBOX} -d {d} -- {EXAMPLES}/nil-deref")
        script = f"echo $$ > {cg}/cgroup.procs && exec unshare -m --propagation private sh -c '{inner}'"
        r, t = strace_opens(script, trace)
        assert r.returncode == 2, (r.returncode, r.stderr[-1000:])
        mem = manifest(only_bundle(d))["memory"]
        assert mem["cgroup_path"] == mnt + cg[len(top):], (mem, cg)
        assert mem["limit_bytes"] == 256 << 20, mem
        assert "/proc/self/mountinfo" in t, t[-3000:]
    finally:
        remove_cgroup(cg)
