"""Kubernetes termination message and Prometheus textfile metrics."""
import os
import re
import subprocess

from lib import CRASHBOX, EXAMPLES, write_policy


def test_termination_message_is_written_only_where_it_exists(tmp):
    tlog = os.path.join(tmp, "termination-log")
    open(tlog, "w").close()
    d = os.path.join(tmp, "b")
    pol = write_policy(tmp, f"[kubernetes]\ntermination_log = {tlog}\n")
    r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", os.path.join(EXAMPLES, "nil-deref")],
                       capture_output=True, timeout=60)
    assert r.returncode == 2
    text = open(tlog).read()
    assert text.startswith("crashbox: nil-deref go-panic: runtime error: invalid memory address")
    assert "at main.handle (" in text
    assert re.search(r"bundle: nil-deref-\d{8}T\d{6}Z-.*-go-panic\.tar\.zst", text), text
    assert len(text) <= 1024
    missing = os.path.join(tmp, "absent-log")
    pol = write_policy(tmp, f"[kubernetes]\ntermination_log = {missing}\n", "absent.policy")
    subprocess.run([CRASHBOX, "-p", pol, "--", "sh", "-c", "exit 3"], capture_output=True, timeout=60)
    assert not os.path.exists(missing), "never created: the kubelet mounts it when it wants one"
    # A clean exit leaves the message alone.
    open(tlog, "w").close()
    pol = write_policy(tmp, f"[kubernetes]\ntermination_log = {tlog}\n", "clean.policy")
    subprocess.run([CRASHBOX, "-p", pol, "--", "true"], capture_output=True, timeout=60)
    assert open(tlog).read() == ""


def test_metrics_textfile(tmp):
    prom = os.path.join(tmp, "crashbox.prom")
    d = os.path.join(tmp, "b")
    pol = write_policy(tmp, f"[metrics]\ntextfile = {prom}\n[restart]\nmode = on-crash\n"
                            "min_delay = 10ms\nmax_delay = 20ms\nburst = 2\n[retention]\nrate_limit_burst = 50\n")
    r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", "sh", "-c", "echo nope >&2; exit 3"],
                       capture_output=True, timeout=60)
    assert r.returncode == 3
    text = open(prom).read()
    values = dict(re.findall(r"^(\S+) (\S+)$", text, re.M))
    assert values['crashbox_crashes_total{service="sh",kind="exit"}'] == "3"
    assert values['crashbox_crashes_total{service="sh",kind="go-panic"}'] == "0"
    assert values['crashbox_restarts_total{service="sh"}'] == "2"
    assert int(values['crashbox_last_crash_timestamp_seconds{service="sh"}']) > 1_600_000_000
    assert f'crashbox_bundle_dir_bundles{{dir="{d}"}}' in values
    assert "# TYPE crashbox_crashes_total counter" in text
    assert [f for f in os.listdir(tmp) if f.endswith(".tmp")] == [], "written atomically"
