"""Finding the service's memory cgroup where the cgroup filesystem is mounted
as a container engine mounts it: crashbox runs in a mount namespace of its
own, the way a container's entrypoint does."""
import os
import shutil
import signal
import subprocess

from bundles import manifest
from lib import CRASHBOX, EXAMPLES, Skip, need_root
from test_capture import memory_cgroup, only_bundle, remove_cgroup


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
    return [l for l in r.stdout.decode().splitlines() if l.startswith("  memory ")][0]


def test_oom_kill_where_the_mount_shows_the_services_own_cgroup(tmp):
    # What Docker does with --cgroupns host: the container's cgroup itself is
    # mounted at the hierarchy's usual place (mountinfo root /.../crashbox-mem-…)
    # while /proc/self/cgroup still names the full path from the top.
    need_unshare()
    cg = memory_cgroup(tmp, 96 << 20)
    v1 = os.path.exists(os.path.join(cg, "memory.limit_in_bytes"))
    mnt = "/sys/fs/cgroup/memory" if v1 else "/sys/fs/cgroup"
    try:
        d = os.path.join(tmp, "b")
        os.makedirs(d)
        inner = (f"mount --bind {cg} {mnt} && test ! -e {mnt}/{os.path.basename(cg)} && "
                 f"exec {CRASHBOX} -d {d} -- {EXAMPLES}/unbounded-alloc")
        script = f"echo $$ > {cg}/cgroup.procs && exec unshare -m --propagation private sh -c '{inner}'"
        r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=120)
        assert r.returncode == 128 + signal.SIGKILL, (r.returncode, r.stderr[-1000:])
        path = only_bundle(d)
        man = manifest(path)
        assert man["crash"]["kind"] == "oom-kill", man["crash"]
        mem = man["memory"]
        assert mem["cgroup_path"] == mnt, mem
        assert mem["limit_bytes"] == 96 << 20
        assert mem["oom_kills"] > mem["oom_kills_at_start"]
        assert "cgroup" not in [m["item"] for m in man["snapshot"]["missing"]]
        line = show(path)
        assert "limit: 96MiB" in line and f"cgroup v{1 if v1 else 2}" in line, line
    finally:
        remove_cgroup(cg)


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
    assert line == "  memory   no memory cgroup (no cgroup filesystem is mounted)", line
