"""Faults never take the service down: a slow filesystem, a service that
closes its stderr early."""
import os
import shutil
import signal
import subprocess
import time

from bundles import list_bundles, manifest
from lib import CRASHBOX, Skip, kill_quietly, need_strace, wait_line, write_policy
from test_capture import v2_fixture_tree


def test_slow_filesystem_does_not_hold_supervision(tmp):
    need_strace()
    d = os.path.join(tmp, "b")
    os.makedirs(d)
    count = os.path.join(tmp, "count")
    svc = os.path.join(tmp, "svc.sh")
    with open(svc, "w") as f:
        f.write(f"""#!/bin/sh
n=$(cat {count} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {count}
if [ $n = 1 ]; then echo 'worker: boom' >&2; exit 3; fi
echo "serving run $n"; exec sleep 60
""")
    os.chmod(svc, 0o755)
    pol = write_policy(tmp, "[restart]\nmode = on-crash\nmin_delay = 10ms\nmax_delay = 20ms\n")
    # Every fsync takes 3 s: the filesystem under the bundle directory is slow.
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                          "-e", "inject=fsync:delay_exit=3000000",
                          CRASHBOX, "-p", pol, "-d", d, "--", svc],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        t0 = time.monotonic()
        wait_line(p.stdout, "serving run 2", timeout=20)
        assert time.monotonic() - t0 < 2.5, "the restart did not wait for the slow bundle write"
        visible = [b for b in list_bundles(d) if not b.startswith(".")]
        assert visible == [], "no partial bundle is visible while it is written"
        # Still supervised: a signal reaches the second run at once.
        crashbox = [int(x) for x in subprocess.run(["pgrep", "-f", f"{CRASHBOX} -p {pol}"],
                                                    capture_output=True).stdout.split()]
        crashbox = [c for c in crashbox if c != p.pid]
        assert crashbox, "crashbox runs under strace"
        os.kill(crashbox[0], signal.SIGTERM)
        rc = p.wait(timeout=30)
        assert rc == 128 + signal.SIGTERM, rc
        bundles = list_bundles(d)
        assert len(bundles) == 1, "the bundle was finished before crashbox exited"
        assert manifest(os.path.join(d, bundles[0]))["crash"]["message"] == "exit status 3: worker: boom"
        assert [f for f in os.listdir(d) if f.startswith(".crashbox-tmp")] == []
    finally:
        kill_quietly(p)


def test_service_closing_stderr_early_is_still_supervised(tmp):
    p = subprocess.Popen([CRASHBOX, "--", "sh", "-c",
                          "exec 2>&-; echo closed; trap 'echo got USR1; exit 4' USR1; while :; do sleep 0.05; done"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_line(p.stdout, "closed")
        time.sleep(0.3)
        p.send_signal(signal.SIGUSR1)
        wait_line(p.stdout, "got USR1")
        assert p.wait(timeout=10) == 4
    finally:
        kill_quietly(p)


def test_staying_in_the_oom_killers_reach_is_said_once_where_a_group_oom_kill_can_happen(tmp):
    """Without CAP_SYS_RESOURCE crashbox cannot lower its oom_score_adj. Where
    memory.oom.group is set (Kubernetes 1.28+) a group OOM kill would take it
    too: it says so once, at info, with why. Elsewhere (the OOM killer picks
    the largest process, the service) only -v says it."""
    if not shutil.which("capsh"):
        raise Skip("capsh is not installed (libcap2-bin)")
    root, cg = v2_fixture_tree(tmp, {})
    pol = write_policy(tmp, "[restart]\nmode = on-crash\nmin_delay = 0\nburst = 3\n")

    def run(group, *flags):
        with open(os.path.join(cg, "memory.oom.group"), "w") as f:
            f.write(f"{group}\n")
        # A raised score can always be set; lowering it back needs the
        # capability, which capsh drops (from the bounding set too).
        script = (f"echo 100 > /proc/self/oom_score_adj && "
                  f"exec {CRASHBOX} {' '.join(flags)} -p {pol} -- sh -c 'exit 3'")
        r = subprocess.run(["capsh", "--drop=cap_sys_resource", "--", "-c", script], capture_output=True,
                           timeout=60, env=dict(os.environ, CRASHBOX_CGROUP_ROOT=root))
        return [l for l in r.stderr.decode().splitlines() if "oom_score_adj" in l]

    said = run(1)
    assert len(said) == 1, said
    assert said[0].startswith("crashbox: info:") and "Permission denied" in said[0] and "CAP_SYS_RESOURCE" in said[0]
    assert "a group OOM kill will take crashbox with the service" in said[0]
    assert run(0) == [], "no group OOM kill: nothing to warn about"
    said = run(0, "-v")
    assert len(said) == 1 and said[0].startswith("crashbox: debug:"), said
