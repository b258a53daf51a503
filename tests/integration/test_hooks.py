"""Watcher hooks: the watcher environment, their timeout, their output."""
import os
import subprocess
import time

from bundles import list_bundles
from lib import CRASHBOX, EXAMPLES, write_policy


def test_a_go_hook_does_not_inherit_the_services_go_tuning(tmp):
    d = os.path.join(tmp, "b")
    pol = write_policy(tmp, f"[hooks]\non_crash = {EXAMPLES}/hook-env\ntimeout = 20s\n")
    env = dict(os.environ, GOGC="off", GOMEMLIMIT="30GiB", GODEBUG="madvdontneed=1", GOMAXPROCS="1")
    r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", "sh", "-c",
                        "echo service sees GOGC=$GOGC GOMEMLIMIT=$GOMEMLIMIT; exit 3"],
                       capture_output=True, env=env, timeout=60)
    assert r.returncode == 3
    assert r.stdout == b"service sees GOGC=off GOMEMLIMIT=30GiB\n", "the service keeps its own tuning"
    err = r.stderr.decode()
    hook = [l for l in err.splitlines() if "hook: GOGC=" in l]
    assert hook, err
    bundle = os.path.join(d, list_bundles(d)[0])
    assert hook[0].endswith(f'hook: GOGC="" GOMEMLIMIT="" gcpercent=100 memlimit=9223372036854775807 bundle={bundle}'), hook
    assert "hook-env: done" in err


def test_a_hanging_hook_is_killed_at_its_timeout_and_supervision_goes_on(tmp):
    d = os.path.join(tmp, "b")
    marker = os.path.join(tmp, "hook-started")
    pol = write_policy(tmp, f"[hooks]\non_crash = sh -c \"touch {marker}; exec sleep 600\" hook\n"
                            "timeout = 500ms\n[restart]\nmode = on-crash\nmin_delay = 10ms\nmax_delay = 20ms\n"
                            "burst = 1\n[retention]\nrate_limit_burst = 10\n")
    counter = os.path.join(tmp, "runs")
    t0 = time.monotonic()
    r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", "sh", "-c", f"echo x >> {counter}; exit 3"],
                       capture_output=True, timeout=60)
    took = time.monotonic() - t0
    assert r.returncode == 3
    assert len(open(counter).read().split()) == 2, "the restart did not wait for the hook"
    err = r.stderr.decode()
    assert err.count("still running after 500ms: killing it") == 2, err
    assert os.path.exists(marker)
    assert took < 10
    left = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True).stdout
    assert left == b"", "the hook's process group was killed"


def test_a_failing_hook_is_logged_never_fatal(tmp):
    d = os.path.join(tmp, "b")
    pol = write_policy(tmp, "[hooks]\non_crash = /nonexistent/uploader\n")
    r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", "sh", "-c", "exit 4"], capture_output=True, timeout=60)
    assert r.returncode == 4
    err = r.stderr.decode()
    assert "hook /nonexistent/uploader: failed with exit status 127" in err
    assert len(list_bundles(d)) == 1


def test_hooks_get_none_of_crashboxs_fds(tmp):
    d = os.path.join(tmp, "b")
    pol = write_policy(tmp, "[hooks]\non_crash = sh -c \"ls /proc/self/fd | tr '\\\\n' ' '\" hook\n")
    r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", "sh", "-c", "exit 5"], capture_output=True, timeout=60)
    line = [l for l in r.stderr.decode().splitlines() if "hook: " in l and "done" not in l][0]
    fds = line.split("hook: ")[1].split()
    assert fds == ["0", "1", "2", "3"], fds  # 3 is ls's own directory fd
