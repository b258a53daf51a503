"""The restart policy: modes, back-off, the start limit, SIGTERM mid-back-off."""
import os
import signal
import subprocess
import time

from bundles import list_bundles, manifest
from lib import CRASHBOX, kill_quietly, write_policy


def runs_in(path):
    return len(open(path).read().splitlines()) if os.path.exists(path) else 0


def counting(tmp, code):
    counter = os.path.join(tmp, "runs")
    return counter, ["sh", "-c", f"echo run >> {counter}; echo 'worker: gave up' >&2; exit {code}"]


def test_never_runs_once(tmp):
    counter, cmd = counting(tmp, 3)
    pol = write_policy(tmp, "[restart]\nmode = never\n")
    r = subprocess.run([CRASHBOX, "-p", pol, "--"] + cmd, capture_output=True, timeout=30)
    assert r.returncode == 3 and runs_in(counter) == 1


def test_on_crash_loop_stops_at_the_start_limit_with_a_bundle_each(tmp):
    counter, cmd = counting(tmp, 3)
    d = os.path.join(tmp, "b")
    pol = write_policy(tmp, "[restart]\nmode = on-crash\nmin_delay = 50ms\nmax_delay = 200ms\n"
                            "burst = 3\nwindow = 30s\n[retention]\nrate_limit_burst = 100\n")
    r = subprocess.run([CRASHBOX, "-d", d, "-p", pol, "--"] + cmd, capture_output=True, timeout=60)
    assert r.returncode == 3, "the last status"
    assert runs_in(counter) == 4, "the first run and three restarts"
    assert b"giving up" in r.stderr
    restarts = sorted(manifest(os.path.join(d, b))["restarts"] for b in list_bundles(d))
    assert restarts == [0, 1, 2, 3], restarts


def test_on_crash_does_not_restart_a_clean_exit(tmp):
    counter, cmd = counting(tmp, 0)
    pol = write_policy(tmp, "[restart]\nmode = on-crash\nmin_delay = 10ms\n")
    r = subprocess.run([CRASHBOX, "-p", pol, "--"] + cmd, capture_output=True, timeout=30)
    assert r.returncode == 0 and runs_in(counter) == 1


def test_always_restarts_clean_exits_too(tmp):
    counter, cmd = counting(tmp, 0)
    pol = write_policy(tmp, "[restart]\nmode = always\nmin_delay = 10ms\nmax_delay = 20ms\nburst = 2\n")
    r = subprocess.run([CRASHBOX, "-p", pol, "--"] + cmd, capture_output=True, timeout=30)
    assert r.returncode == 0 and runs_in(counter) == 3


def test_sigterm_during_back_off_exits_at_once(tmp):
    counter, cmd = counting(tmp, 5)
    pol = write_policy(tmp, "[restart]\nmode = on-crash\nmin_delay = 30s\nmax_delay = 30s\n")
    p = subprocess.Popen([CRASHBOX, "-p", pol, "--"] + cmd, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while runs_in(counter) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # now in the 30 s back-off
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
        assert time.monotonic() - t0 < 3
        assert rc == 5, "the last run's status"
        assert runs_in(counter) == 1
    finally:
        kill_quietly(p)


def test_signals_during_a_run_are_still_forwarded(tmp):
    pol = write_policy(tmp, "[restart]\nmode = always\nmin_delay = 10ms\n")
    p = subprocess.Popen([CRASHBOX, "-p", pol, "--", "sh", "-c", "echo up; exec sleep 30"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"up\n"
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 128 + signal.SIGTERM, "asked to stop: no restart"
    finally:
        kill_quietly(p)
