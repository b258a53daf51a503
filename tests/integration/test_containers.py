"""crashbox as the ENTRYPOINT of real containers: a private dockerd (see
dockerd.py), images FROM scratch holding the static crashbox, static Go
examples and a policy, every container without a network. Bundles land in a
bind-mounted host directory and are read with the host's tar and crashbox.

Each crash test runs under both --cgroupns host (Docker's default on cgroup
v1) and --cgroupns private: crashbox must find the container's memory cgroup
either way."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from bundles import list_bundles, manifest, member, members, only_bundle
from dockerd import ENGINE, REPO, STATIC_CRASHBOX, STATIC_EXAMPLES, STATIC_HELPER
from lib import CRASHBOX, children_of, wait_until
from test_capture import oom_attempts
from test_coredump import check_cut_core, check_go_core

IMAGE = "crashbox-test"
NAMESPACES = ("host", "private")
MIB = 1 << 20
# The policy baked into the test image: a short grace period, so a service
# that ignores SIGTERM is killed by crashbox well inside docker stop's.
GRACE_S = 2
TEST_POLICY = f"""[signals]
grace_period = {GRACE_S}s
[retention]
rate_limit_burst = 50
"""
# crashbox restarts a crashing service twice, then gives up with its status.
RESTART_POLICY = TEST_POLICY + """[restart]
mode = on-crash
min_delay = 50ms
max_delay = 100ms
burst = 2
window = 1m
"""
# Where the bundle directory refuses, a second volume takes the bundle.
FALLBACK_POLICY = TEST_POLICY + """[bundle]
fallback_directory = /fallback
"""
# [core] dump = yes; its cut by a tiny max_size; and a service of another
# user, which needs CAP_SYS_PTRACE (Docker's default set has none).
CORE_POLICY = TEST_POLICY + "[core]\ndump = yes\n"
CORE_CUT = 1 << 20  # the least max_size a policy takes
CORE_POLICIES = {"core": CORE_POLICY, "core-cut": CORE_POLICY + f"max_size = {CORE_CUT >> 20}MiB\n",
                 "core-user": CORE_POLICY + "[sandbox]\nuser = 65534\n"}
SERVICES = ["nil-deref", "custom-panic", "index-out-of-range", "concurrent-map-writes", "deadlock",
            "stack-overflow", "recovered-repanic", "panic-in-goroutine", "traceback-crash", "exit-3",
            "log-fatal", "unbounded-alloc", "sleeper", "clean"]
# example, exit status, kind, message prefix, culprit, exit-hook trigger (as tests/integration/test_capture.py)
EXPECT = [
    ("nil-deref", 2, "go-panic", "runtime error: invalid memory address or nil pointer dereference",
     "main.handle", "exit_group(2)"),
    ("custom-panic", 2, "go-panic", "reconcile batch 3: ledger out of balance", "main.reconcile", "exit_group(2)"),
    ("index-out-of-range", 2, "go-panic", "runtime error: index out of range [5] with length 3", "main.pick",
     "exit_group(2)"),
    ("concurrent-map-writes", 2, "go-fatal", "concurrent map writes", "main.main.func1", "exit_group(2)"),
    ("deadlock", 2, "go-fatal", "all goroutines are asleep - deadlock!", "main.main", "exit_group(2)"),
    ("stack-overflow", 2, "go-fatal", "stack overflow", "main.descend", "exit_group(2)"),
    ("recovered-repanic", 2, "go-panic", "process failed: runtime error", "main.process.func1", "exit_group(2)"),
    ("panic-in-goroutine", 2, "go-panic", "job 3: checksum mismatch", "main.consume", "exit_group(2)"),
    ("traceback-crash", 128 + signal.SIGABRT, "go-panic", "port is not a number", "main.(*parser).port",
     ("tgkill(SIGABRT)", "tkill(SIGABRT)", "kill(SIGABRT)")),
    ("exit-3", 3, "exit", "exit status 3: config: missing DATABASE_URL, giving up", None, "exit_group(3)"),
    ("log-fatal", 1, "exit", "exit status 1: ", None, "exit_group(1)"),
]


def teardown_module():
    ENGINE.stop()


def host_cgroup_version():
    """What Docker gives containers here: v2 only on a unified host."""
    return 2 if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else 1


def engine():
    e = ENGINE.need()
    if IMAGE not in e.images:
        ctx = tempfile.mkdtemp(prefix="cbctx-")
        try:
            shutil.copy(STATIC_CRASHBOX, os.path.join(ctx, "crashbox"))
            os.makedirs(os.path.join(ctx, "svc"))
            for s in SERVICES:
                src = os.path.join(STATIC_EXAMPLES, s)
                if not os.path.exists(src):
                    raise AssertionError(f"{src} missing: make static-examples")
                shutil.copy(src, os.path.join(ctx, "svc", s))
            shutil.copy(STATIC_HELPER, os.path.join(ctx, "svc", "cbhelper"))
            with open(os.path.join(ctx, "test.policy"), "w") as f:
                f.write(TEST_POLICY)
            policies = {"restart": RESTART_POLICY, "fallback": FALLBACK_POLICY, **CORE_POLICIES}
            for name, text in policies.items():
                with open(os.path.join(ctx, f"{name}.policy"), "w") as f:
                    f.write(text)
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write("FROM scratch\n"
                        "COPY crashbox /crashbox\n"
                        "COPY svc/ /svc/\n"
                        "COPY *.policy /etc/crashbox/\n"
                        "ENV CRASHBOX_POLICY=/etc/crashbox/test.policy CRASHBOX_BUNDLE_DIR=/bundles\n"
                        'ENTRYPOINT ["/crashbox", "--"]\n')
            e.build(IMAGE, ctx)
        finally:
            shutil.rmtree(ctx, ignore_errors=True)
    return e


def bundle_dir(tmp, name):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    return d


def run(e, tmp, ns, *cmd, opts=(), sub=None, timeout=120):
    """docker run --rm of cmd in the test image; returns (result, bundle dir)."""
    d = bundle_dir(tmp, sub or ns)
    r = e.docker("run", "--rm", "--network", "none", "--cgroupns", ns, "-v", f"{d}:/bundles", *opts,
                 IMAGE, *cmd, timeout=timeout)
    return r, d


def show(path):
    r = subprocess.run([CRASHBOX, "show", path], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def limit_for(example):
    # Go lets a goroutine stack grow to 1 GiB, copied on each doubling: below
    # that a stack overflow is an OOM kill, not the runtime's fatal error.
    return 2048 * MIB if example == "stack-overflow" else 256 * MIB


def examples_in(tmp, ns):
    e = engine()
    problems = []
    for example, code, kind, prefix, culprit, trigger in EXPECT:
        limit = f"{limit_for(example) >> 20}m"
        r, d = run(e, tmp, ns, f"/svc/{example}", opts=["--memory", limit, "--memory-swap", limit],
                   sub=f"{ns}-{example}")
        try:
            assert r.returncode == code, (r.returncode, r.stderr[-1500:])
            path = only_bundle(d)
            man = manifest(path)
            c = man["crash"]
            assert c["kind"] == kind, c
            assert c["message"].startswith(prefix), c["message"]
            if culprit:
                assert c["culprit"]["function"] == culprit, c["culprit"]
            snap = man["snapshot"]
            assert snap["taken"] == "exit-hook", snap
            assert snap["trigger"] in ((trigger,) if isinstance(trigger, str) else trigger), snap
            mem = man["memory"]
            assert mem["cgroup_version"] == host_cgroup_version(), mem
            assert mem["limit_bytes"] == limit_for(example), mem
            assert any(n.startswith("cgroup/memory.") for n in members(path)), members(path)
            assert re.search(r"memory\s+limit:? \d", show(path)), show(path)
        except AssertionError as err:
            problems.append(f"{example} (--cgroupns {ns}): {err}")
    assert not problems, "\n".join(problems)


def test_every_example_crash_with_cgroupns_host(tmp):
    examples_in(tmp, "host")


def test_every_example_crash_with_cgroupns_private(tmp):
    examples_in(tmp, "private")


def oom_in(tmp, ns):
    e = engine()

    def once(run_dir):
        # 4 MiB every 20 ms, a paced climb: 80 -> 95 % of 128 MiB in about 100 ms.
        r, d = run(e, run_dir, ns, "/svc/unbounded-alloc", "20ms", opts=["--memory", "128m", "--memory-swap", "128m"])
        assert r.returncode == 128 + signal.SIGKILL, (r.returncode, r.stderr[-1500:])
        # Docker says 137 for crashbox (PID 1, without CAP_SYS_RESOURCE by
        # default) OOM-killed too; it wrote no bundle and never said so.
        if not list_bundles(d) and b'"crashbox":"crash"' not in r.stderr:
            return None
        return r, d
    r, d = oom_attempts(tmp, once)
    path = only_bundle(d)
    man = manifest(path)
    assert man["crash"]["kind"] == "oom-kill", (man["crash"], r.stderr[-1500:])
    mem = man["memory"]
    assert mem["limit_bytes"] == 128 * MIB, mem
    assert mem["oom_kills"] > mem["oom_kills_at_start"], mem
    names = members(path)
    assert "cgroup/memory.stat" in names, names
    # Pre-OOM snapshots taken on the way up, though cgroupfs is read-only here.
    crossed = [w["percent"] for w in mem["watermarks_crossed"]]
    assert crossed, (mem, r.stderr[-1500:])
    for pct in crossed:
        assert f"pre-oom/{pct}/proc/status" in names and f"pre-oom/{pct}/cgroup/memory.stat" in names, (pct, names)
    watch = mem.get("watch") or {}
    assert watch.get("by"), ("the manifest names the mechanism that watched", mem)
    text = show(path)
    assert re.search(r"memory\s+limit:? 128(\.0)?M(iB)?\b", text), text
    assert re.search(r"^\s*watched\s+\S*" + re.escape(watch["by"]), text, re.M), text
    assert re.search(r"pre-OOM\s+\d+ snapshot", text), text


def test_oom_kill_with_cgroupns_host(tmp):
    oom_in(tmp, "host")


def test_oom_kill_with_cgroupns_private(tmp):
    oom_in(tmp, "private")


def detached(e, d, ns, *cmd, opts=()):
    """docker run -d; returns the container id once its service said ready."""
    cid = e.docker("run", "-d", "--network", "none", "--cgroupns", ns, "-v", f"{d}:/bundles", *opts,
                   IMAGE, *cmd, check=True).stdout.decode().strip()
    if not wait_until(lambda: b"ready" in e.docker("logs", cid).stdout, timeout=30):
        logs = e.docker("logs", cid)
        e.docker("rm", "-f", cid)
        raise AssertionError(f"never ready: {logs.stdout[-500:]} {logs.stderr[-1500:]}")
    return cid


def exit_code(e, cid):
    return int(e.docker("inspect", "-f", "{{.State.ExitCode}}", cid, check=True).stdout)


def stop_in(tmp, ns):
    e = engine()
    # A service that handles SIGTERM and exits 0: its own status, at once.
    d = bundle_dir(tmp, f"{ns}-own")
    cid = detached(e, d, ns, "/svc/cbhelper", "sigecho", "1")
    try:
        t0 = time.monotonic()
        e.docker("stop", "-t", "30", cid, check=True)
        took = time.monotonic() - t0
        assert exit_code(e, cid) == 0
        assert e.docker("logs", cid).stdout.split() == [b"ready", str(int(signal.SIGTERM)).encode()]
        assert took < GRACE_S, f"SIGTERM reached the service at once, not after {took:.1f}s"
        assert list_bundles(d) == [], "a requested stop is no crash"
    finally:
        e.docker("rm", "-f", cid)
    # A Go service with no handler dies of it: 143.
    d = bundle_dir(tmp, f"{ns}-143")
    cid = detached(e, d, ns, "/svc/sleeper")
    try:
        e.docker("stop", "-t", "30", cid, check=True)
        assert exit_code(e, cid) == 128 + signal.SIGTERM
        assert list_bundles(d) == []
    finally:
        e.docker("rm", "-f", cid)
    # One that ignores SIGTERM: crashbox's grace period ends it, inside docker's 30s.
    d = bundle_dir(tmp, f"{ns}-ignore")
    cid = detached(e, d, ns, "/svc/cbhelper", "ignoreterm")
    try:
        t0 = time.monotonic()
        e.docker("stop", "-t", "30", cid, check=True)
        took = time.monotonic() - t0
        assert GRACE_S - 0.2 <= took < GRACE_S + 5, took
        assert exit_code(e, cid) == 128 + signal.SIGKILL
        assert f"still running {GRACE_S * 1000}ms after the stop signal".encode() in e.docker("logs", cid).stderr
    finally:
        e.docker("rm", "-f", cid)


def test_docker_stop_with_cgroupns_host(tmp):
    stop_in(tmp, "host")


def test_docker_stop_with_cgroupns_private(tmp):
    stop_in(tmp, "private")


def quit_in(tmp, ns):
    e = engine()
    d = bundle_dir(tmp, ns)
    cid = detached(e, d, ns, "/svc/sleeper")
    try:
        e.docker("kill", "-s", "QUIT", cid, check=True)
        assert e.docker("wait", cid, check=True).stdout.strip() == b"2"
        man = manifest(only_bundle(d))
        assert man["crash"]["kind"] == "go-fatal", man["crash"]
        assert man["crash"]["go_signal"] == "SIGQUIT"
        assert man["crash"]["goroutines"] >= 1
        assert re.search(rb"^goroutine 1 .*\[sleep", member(only_bundle(d), "crash.txt"), re.M)
    finally:
        e.docker("rm", "-f", cid)


def test_docker_kill_quit_with_cgroupns_host(tmp):
    quit_in(tmp, "host")


def test_docker_kill_quit_with_cgroupns_private(tmp):
    quit_in(tmp, "private")


HARDENED = ["--user", "65534:65534", "--cap-drop", "ALL", "--read-only", "--security-opt", "no-new-privileges",
            "--pids-limit", "64"]


def test_hardened_container_with_a_group_writable_volume(tmp):
    e = engine()
    for ns in NAMESPACES:
        # The volume belongs to another user; its group (the service's) may write.
        d = bundle_dir(tmp, ns)
        os.chown(d, 1000, 65534)
        os.chmod(d, 0o2770)
        r, _ = run(e, tmp, ns, "/svc/nil-deref", opts=HARDENED)
        assert r.returncode == 2, r.stderr[-1500:]
        path = only_bundle(d)
        man = manifest(path)
        assert man["crash"]["kind"] == "go-panic" and man["snapshot"]["taken"] == "exit-hook", man["snapshot"]
        assert os.stat(path).st_uid == 65534 and os.stat(path).st_gid == 65534
        status = member(path, "proc/status").decode()
        assert re.search(r"^Uid:\s+65534\s", status, re.M), status
        assert re.search(r"^NoNewPrivs:\s+1", status, re.M), status


def test_hardened_container_with_a_volume_it_cannot_write_says_why(tmp):
    e = engine()
    for ns in NAMESPACES:
        d = bundle_dir(tmp, ns)
        os.chown(d, 1000, 1000)
        os.chmod(d, 0o755)
        r, _ = run(e, tmp, ns, "/svc/nil-deref", opts=HARDENED)
        assert r.returncode == 2, r.stderr[-1500:]
        err = r.stderr.decode()
        assert list_bundles(d) == []
        assert re.search(r"cannot write crash bundle nil-deref-\S+ in /bundles: Permission denied", err), err
        assert '"bundle":null' in err, "the summary line still reaches docker logs"
        assert "invalid memory address" in err, "and the service's own report"
        # With a fallback directory on a volume it can write, the bundle is kept there.
        fb = bundle_dir(tmp, f"{ns}-fallback")
        os.chmod(fb, 0o1777)
        r, _ = run(e, tmp, ns, "/svc/nil-deref", opts=HARDENED + [
            "-v", f"{fb}:/fallback", "-e", "CRASHBOX_POLICY=/etc/crashbox/fallback.policy"])
        assert r.returncode == 2, r.stderr[-1500:]
        assert list_bundles(d) == []
        assert re.search(r"cannot write crash bundle nil-deref-\S+ in /bundles: Permission denied", r.stderr.decode())
        path = only_bundle(fb)
        assert f'"bundle":"/fallback/{os.path.basename(path)}"'.encode() in r.stderr
        assert manifest(path)["crash"]["kind"] == "go-panic"


def host_children(pid):
    """(pid, command name) of each child of a host pid."""
    out = []
    for child, _ in children_of(pid):
        try:
            with open(f"/proc/{child}/comm") as f:
                out.append((child, f.read().strip()))
        except OSError:
            pass
    return sorted(out)


def test_docker_run_init_tini_is_pid_1_and_crashbox_the_subreaper(tmp):
    e = engine()
    for ns in NAMESPACES:
        d = bundle_dir(tmp, ns)
        # The service leaves two orphans behind that live 3 s.
        cid = e.docker("run", "-d", "--init", "--network", "none", "--cgroupns", ns, "-v", f"{d}:/bundles", IMAGE,
                       "/svc/cbhelper", "orphans", "2", "3000", check=True).stdout.decode().strip()
        try:
            assert wait_until(lambda: b"spawned" in e.docker("logs", cid).stdout, timeout=30)
            init = int(e.docker("inspect", "-f", "{{.State.Pid}}", cid, check=True).stdout)
            with open(f"/proc/{init}/comm") as f:
                assert f.read().strip() in ("docker-init", "tini", "tini-static")
            kids = host_children(init)
            assert [k[1] for k in kids] == ["crashbox"], kids
            box = kids[0][0]
            below = host_children(box)
            # The service, and its orphans: reparented to crashbox, not to tini.
            assert len(below) == 3 and all(k[1] == "cbhelper" for k in below), below
            assert host_children(init) == kids
            assert e.docker("wait", cid, check=True).stdout.strip() == b"0"
            assert b"zombie" not in e.docker("logs", cid).stderr
        finally:
            e.docker("rm", "-f", cid)
        # A crash beneath tini still gives its bundle and status.
        r = e.docker("run", "--rm", "--init", "--network", "none", "--cgroupns", ns, "-v", f"{d}:/bundles",
                     IMAGE, "/svc/nil-deref")
        assert r.returncode == 2
        assert manifest(only_bundle(d))["crash"]["kind"] == "go-panic"


def test_docker_restart_on_failure_beside_crashbox_restarts(tmp):
    e = engine()
    for ns in NAMESPACES:
        d = bundle_dir(tmp, ns)
        # crashbox: 1 run + 2 restarts, then it exits 3; docker: one container restart.
        cid = e.docker("run", "-d", "--restart", "on-failure:1", "--network", "none", "--cgroupns", ns,
                       "-v", f"{d}:/bundles",
                       "-e", "CRASHBOX_POLICY=/etc/crashbox/restart.policy", IMAGE, "/svc/exit-3",
                       check=True).stdout.decode().strip()
        try:
            def done():
                st = e.docker("inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", cid)
                return st.stdout.split() == [b"exited", b"1", b"3"]
            assert wait_until(done, timeout=60), e.docker("inspect", "-f", "{{json .State}}", cid).stdout
            restarts = [manifest(os.path.join(d, b))["restarts"] for b in list_bundles(d)]
            assert sorted(restarts) == [0, 0, 1, 1, 2, 2], restarts
            logs = e.docker("logs", cid).stderr.decode()
            assert logs.splitlines().count("config: missing DATABASE_URL, giving up") == 6, logs
        finally:
            e.docker("rm", "-f", cid)
        # docker stop is a request, not a failure: on-failure leaves it stopped.
        cid = e.docker("run", "-d", "--restart", "on-failure:3", "--network", "none", "--cgroupns", ns,
                       "-v", f"{d}:/bundles",
                       IMAGE, "/svc/cbhelper", "ignoreterm", check=True).stdout.decode().strip()
        try:
            assert wait_until(lambda: b"ready" in e.docker("logs", cid).stdout, timeout=30)
            e.docker("stop", "-t", "30", cid, check=True)
            time.sleep(1)
            st = e.docker("inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
                          cid).stdout.split()
            assert st == [b"exited", b"0", str(128 + signal.SIGKILL).encode()], st
        finally:
            e.docker("rm", "-f", cid)


def test_docker_logs_hold_relayed_stderr_byte_for_byte(tmp):
    e = engine()
    for ns in NAMESPACES:
        d = bundle_dir(tmp, ns)
        # Text a log driver keeps as it is: UTF-8, tabs, carriage returns, empty
        # lines, a 100 KiB line (split by the json-file driver, joined by docker logs).
        payload = ("héllo\twörld ✓\r\n\n" + "x" * (100 << 10) + "\n" +
                   "".join(f"line {i} {'ü' * (i % 37)}\n" for i in range(2000))).encode()
        src = os.path.join(tmp, "payload")
        with open(src, "wb") as f:
            f.write(payload)
        cid = e.docker("run", "-d", "--network", "none", "--cgroupns", ns, "-v", f"{d}:/bundles",
                       "-v", f"{src}:/payload:ro", IMAGE, "/svc/cbhelper", "spew", "/payload", "kill",
                       check=True).stdout.decode().strip()
        try:
            assert e.docker("wait", cid, check=True).stdout.strip() == str(128 + signal.SIGKILL).encode()
            logs = e.docker("logs", cid, check=True)
            assert logs.stderr[:len(payload)] == payload, "relayed byte for byte"
            rest = logs.stderr[len(payload):].decode().splitlines()
            summary = [l for l in rest if l.startswith('{"crashbox":"crash"')]
            assert len(summary) == 1, rest
            path = only_bundle(d)
            assert f'"bundle":"/bundles/{os.path.basename(path)}"' in summary[0], summary
            assert member(path, "stderr.log") == payload
        finally:
            e.docker("rm", "-f", cid)


def test_kubernetes_termination_message(tmp):
    e = engine()
    for ns in NAMESPACES:
        tlog = os.path.join(tmp, "termination-log")
        open(tlog, "w").close()
        os.chmod(tlog, 0o666)
        r, d = run(e, tmp, ns, "/svc/custom-panic", opts=["-v", f"{tlog}:/dev/termination-log"])
        assert r.returncode == 2
        text = open(tlog).read()
        assert text.startswith("crashbox: custom-panic go-panic: reconcile batch 3: ledger out of balance"), text
        assert "at main.reconcile (" in text
        assert f"bundle: {os.path.basename(only_bundle(d))}" in text, text
        assert len(text) <= 1024


DOCKER_CONTEXT = os.path.abspath(os.environ.get("DOCKER_CONTEXT", os.path.join(REPO, "build/docker-context")))


def test_offline_scratch_dockerfile_builds_and_captures(tmp):
    e = ENGINE.need()
    if not os.path.exists(os.path.join(DOCKER_CONTEXT, "Dockerfile")):
        raise AssertionError(f"{DOCKER_CONTEXT} missing: make docker-context")
    e.build("api-with-crashbox", DOCKER_CONTEXT)
    d = bundle_dir(tmp, "b")
    os.chmod(d, 0o777)
    # The shipped hardened policy: the service runs as nobody and is
    # restarted after its crash; the first crash's bundle is what we read.
    cid = e.docker("run", "-d", "--network", "none", "-v", f"{d}:/var/lib/crashbox", "api-with-crashbox",
                   check=True).stdout.decode().strip()
    try:
        assert wait_until(lambda: list_bundles(d), timeout=30), e.docker("logs", cid).stderr[-1500:]
        e.docker("stop", "-t", "20", cid, check=True)
        path = os.path.join(d, list_bundles(d)[0])
        man = manifest(path)
        assert man["service"] == "api", man["service"]
        assert man["crash"]["kind"] == "go-panic" and man["crash"]["culprit"]["function"] == "main.handle"
        assert man["snapshot"]["taken"] == "exit-hook", man["snapshot"]
        assert re.search(r"^Uid:\s+65534\s", member(path, "proc/status").decode(), re.M)
    finally:
        e.docker("rm", "-f", cid)


def core_run(e, tmp, sub, example, policy="core", opts=()):
    """A crash of example under a [core] policy; returns (bundle, manifest)."""
    r, d = run(e, tmp, "private", f"/svc/{example}", sub=sub,
               opts=["-e", f"CRASHBOX_POLICY=/etc/crashbox/{policy}.policy", *opts])
    code = dict((x[0], x[1]) for x in EXPECT)[example]
    assert r.returncode == code, (r.returncode, r.stderr[-1500:])
    path = only_bundle(d)
    return path, manifest(path)


def status_of(path):
    """The service's /proc/PID/status from the bundle, as a dict of fields."""
    return dict(l.split(":", 1) for l in member(path, "proc/status").decode().splitlines() if ":" in l)


def test_core_of_go_crashes_in_a_container_opens_in_dlv_and_gdb(tmp):
    # Docker's defaults: its seccomp profile, its capability set (no
    # CAP_SYS_PTRACE). crashbox, the service's parent, needs neither.
    e = engine()
    for example, frame in [("nil-deref", "main.handle"), ("traceback-crash", "main.(*parser).port")]:
        path, m = core_run(e, tmp, example, example)
        st = status_of(path)
        assert st["Seccomp"].strip() == "2", "the service ran under Docker's seccomp filter"
        assert not int(st["CapBnd"], 16) & 1 << 19, "and without CAP_SYS_PTRACE"
        assert m["snapshot"]["taken"] == "exit-hook", m["snapshot"]
        # What the kernel's ptrace access check guards is read too.
        assert m["snapshot"]["missing"] == [], m["snapshot"]["missing"]
        work = os.path.join(tmp, f"{example}-debug")
        os.makedirs(work)
        check_go_core(work, path, m, frame)


def test_core_in_containers_without_capabilities(tmp):
    # --cap-drop ALL as root, and as nobody with no-new-privileges (and a
    # read-only root): the service is crashbox's child of the same user,
    # which is all ptrace asks when Yama is absent or at ptrace_scope 1.
    e = engine()
    for sub, opts in [("capless", ["--cap-drop", "ALL"]), ("nobody", HARDENED)]:
        if sub == "nobody":  # a volume of another user that its group may write
            d = bundle_dir(tmp, sub)
            os.chown(d, 1000, 65534)
            os.chmod(d, 0o2770)
        path, m = core_run(e, tmp, sub, "nil-deref", opts=opts)
        st = status_of(path)
        assert int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0, st
        assert st["Uid"].split()[0] == ("65534" if sub == "nobody" else "0"), st["Uid"]
        assert m["snapshot"]["missing"] == [], m["snapshot"]["missing"]
        work = os.path.join(tmp, f"{sub}-debug")
        os.makedirs(work)
        check_go_core(work, path, m, "main.handle")


def test_core_of_another_user_in_a_container_needs_cap_sys_ptrace(tmp):
    # [sandbox] user: the service is not crashbox's user, so ptrace wants
    # CAP_SYS_PTRACE, which Docker grants only with --cap-add.
    e = engine()
    path, m = core_run(e, tmp, "default", "nil-deref", policy="core-user")
    assert status_of(path)["Uid"].split()[0] == "65534"
    assert m["core"] == {"written": False, "bytes": 0, "threads": 0, "cut": None,
                         "why_not": "ptrace of the service not permitted"}, m["core"]
    assert m["crash"]["kind"] == "go-panic" and m["snapshot"]["taken"] == "exit-hook", m
    assert not [n for n in members(path) if n.startswith("core/")]
    path, m = core_run(e, tmp, "ptrace", "nil-deref", policy="core-user", opts=["--cap-add", "SYS_PTRACE"])
    assert m["core"]["written"] and m["core"]["cut"] is None, m["core"]


def test_core_cut_by_max_size_in_a_container_loads_in_gdb(tmp):
    e = engine()
    path, m = core_run(e, tmp, "cut", "nil-deref", policy="core-cut")
    assert m["crash"]["kind"] == "go-panic"
    check_cut_core(tmp, path, CORE_CUT)
