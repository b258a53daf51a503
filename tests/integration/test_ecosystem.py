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


STATIC = os.environ.get("STATIC_CRASHBOX", "build/static/crashbox")


def test_static_crashbox_in_an_empty_root(tmp):
    from lib import HELPERS, need_root
    import shutil
    from bundles import list_bundles, manifest
    need_root("chroot")
    r = subprocess.run(["ldd", STATIC], capture_output=True)
    assert b"not a dynamic executable" in r.stdout + r.stderr, "fully static"
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "bundles"))
    shutil.copy(STATIC, os.path.join(root, "crashbox"))
    shutil.copy(os.path.join(HELPERS, "static-crasher"), os.path.join(root, "crasher"))
    assert sorted(os.listdir(root)) == ["bundles", "crashbox", "crasher"], "nothing else: no libc, no /proc"
    r = subprocess.run(["chroot", root, "/crashbox", "-d", "/bundles", "--", "/crasher"],
                       capture_output=True, timeout=60)
    assert r.returncode == 128 + 11, r
    d = os.path.join(root, "bundles")
    m = manifest(os.path.join(d, list_bundles(d)[0]))
    assert m["crash"]["kind"] == "signal" and m["exit"]["signal"] == "SIGSEGV"
    assert "/proc is not mounted" in m["snapshot"]["why_post_mortem"]
    assert b"static-crasher: about to fault" in r.stderr


def test_make_install_honours_prefix_and_destdir(tmp):
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    dest = os.path.join(tmp, "dest")
    r = subprocess.run(["make", "-s", "-C", repo, "install", f"DESTDIR={dest}", "PREFIX=/opt/cb"],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for f in ["bin/crashbox", "share/man/man1/crashbox.1", "share/man/man5/crashbox.policy.5",
              "share/crashbox/policies/hardened.policy"]:
        assert os.path.exists(os.path.join(dest, "opt/cb", f)), f
    assert os.access(os.path.join(dest, "opt/cb/bin/crashbox"), os.X_OK)
    out = subprocess.run([os.path.join(dest, "opt/cb/bin/crashbox"), "--version"], capture_output=True)
    assert out.stdout.startswith(b"crashbox ")
