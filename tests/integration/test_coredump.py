"""[core] dump = yes: ELF cores written by crashbox itself, loaded by gdb and dlv."""
import json
import os
import re
import shutil
import struct
import subprocess
import time

from bundles import extract_all_ways, list_bundles, manifest, member, members
from lib import CRASHBOX, EXAMPLES, Skip, kill_quietly, need_root, run, start, wait_until, write_policy

DLV = os.environ.get("CRASHBOX_TEST_DLV", "/opt/crashbox-test/delve/usr/bin/dlv")
GO = next((g for g in ["/usr/lib/go-1.23/bin/go", shutil.which("go") or ""] if g and os.access(g, os.X_OK)), None)
DLV_CMDS = "goroutines\nbt\nexit\n"


def core_policy(tmp, extra=""):
    bdir = os.path.join(tmp, "bundles")
    os.makedirs(bdir, exist_ok=True)
    return write_policy(tmp, f"[bundle]\ndirectory = {bdir}\n[core]\ndump = yes\n{extra}"), bdir


def crash_bundle(tmp, args, extra="", env=None, timeout=120):
    pol, bdir = core_policy(tmp, extra)
    r = run(args, policy=pol, env=env, timeout=timeout)
    names = list_bundles(bdir)
    assert len(names) == 1, (names, r.stderr.decode(errors="replace")[-2000:])
    path = os.path.join(bdir, names[0])
    return r, path, manifest(path)


def debug_unpack(tmp, bundle, name="dbg"):
    """crashbox debug without dlv on PATH: unpacks and prints the commands."""
    dest = os.path.join(tmp, name)
    env = dict(os.environ, PATH="/usr/bin:/bin")
    if shutil.which("dlv", path=env["PATH"]):
        raise Skip("a dlv in /usr/bin would be run by crashbox debug")
    r = subprocess.run([CRASHBOX, "debug", bundle, dest], capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert f"dlv core {dest}/exe {dest}/core" in out, out
    assert f"gdb {dest}/exe {dest}/core" in out, out
    return os.path.join(dest, "exe"), os.path.join(dest, "core")


def gdb_threads(exe, core):
    """gdb -batch: the threads, each with registers and a backtrace."""
    r = subprocess.run(["gdb", "-batch", "-nx", "-ex", "info threads", "-ex", "thread apply all info registers rip rsp",
                        "-ex", "thread apply all bt 8", exe, core], capture_output=True, timeout=120)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, (out, r.stderr)
    threads = re.findall(r"^\*?\s+\d+\s+(?:Thread 0x[0-9a-f]+ \()?LWP (\d+)", out, re.M)
    rips = re.findall(r"^rip\s+0x([0-9a-f]+)", out, re.M)
    frames0 = re.findall(r"^Thread \d+ \([^\n]*LWP \d+\)+:\n#0\s+", out, re.M)
    return out, threads, rips, frames0


def dlv_session(tmp, bundle, name="dlvdir"):
    """crashbox debug with dlv on PATH: dlv core reads commands from stdin."""
    if not os.access(DLV, os.X_OK):
        raise Skip(f"no Delve at {DLV} (.ci/install-deps puts trixie's delve 1.24 there)")
    env = dict(os.environ, PATH=os.path.dirname(DLV) + ":" + os.environ.get("PATH", ""), NO_COLOR="1", TERM="dumb")
    r = subprocess.run([CRASHBOX, "debug", bundle, os.path.join(tmp, name), "--", "--check-go-version=false"],
                       input=DLV_CMDS.encode(), capture_output=True, env=env, timeout=180)
    out = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout.decode(errors="replace"))
    assert "Goroutine" in out, (out, r.stderr.decode(errors="replace"))
    return out


def check_go_core(tmp, bundle, m, want_frame):
    c = m["core"]
    assert c["written"] is True and c["cut"] is None, c
    assert c["threads"] >= 1
    assert "core/core" in members(bundle) and "core/exe" in members(bundle)
    exe, core = debug_unpack(tmp, bundle)
    assert os.path.getsize(core) == c["bytes"]
    with open(core, "rb") as f:
        ident = f.read(18)
    assert ident[:4] == b"\x7fELF" and struct.unpack("<H", ident[16:18])[0] == 4, "ET_CORE"
    out, threads, rips, frames0 = gdb_threads(exe, core)
    assert len(threads) == c["threads"], (threads, c)
    assert len(rips) == len(threads) and all(int(x, 16) for x in rips), out
    assert len(frames0) == len(threads), out
    assert str(m["pid"]) in threads, "the crashing process's threads, by their ids"
    dlv = dlv_session(tmp, bundle)
    gs = re.findall(r"^(?:\(dlv\) )?\s*\*?\s*Goroutine \d+", dlv, re.M)
    assert len(gs) >= 2, dlv
    assert re.search(r"^(?:\(dlv\) )?\* Goroutine \d+", dlv, re.M), "a current goroutine: " + dlv
    bt = dlv[dlv.rfind("goroutines]"):]
    assert want_frame in bt, f"{want_frame} not in the current goroutine's frames:\n{dlv}"


def go_example(name):
    p = os.path.join(EXAMPLES, name)
    if not os.path.exists(p):
        raise Skip(f"{p} not built (make examples)")
    return p


def test_core_of_a_nil_dereference_opens_in_gdb_and_dlv(tmp):
    r, b, m = crash_bundle(tmp, [go_example("nil-deref")])
    assert r.returncode == 2
    assert m["snapshot"]["taken"] == "exit-hook"
    check_go_core(tmp, b, m, "main.handle")


def test_core_of_a_panic_in_application_code(tmp):
    r, b, m = crash_bundle(tmp, [go_example("custom-panic")])
    assert r.returncode == 2
    check_go_core(tmp, b, m, "main.reconcile")


def test_core_of_gotraceback_crash_sigabrt(tmp):
    r, b, m = crash_bundle(tmp, [go_example("traceback-crash")])
    assert r.returncode == 128 + 6, r.returncode
    assert m["snapshot"]["trigger"].endswith("(SIGABRT)"), m["snapshot"]
    check_go_core(tmp, b, m, "main.(*parser).port")


def test_core_of_a_cgo_segfault(tmp):
    r, b, m = crash_bundle(tmp, [go_example("cgo-segv")])
    assert r.returncode == 2
    check_go_core(tmp, b, m, "main.main")


def test_core_of_a_pie_executable(tmp):
    if not GO:
        raise Skip("no Go toolchain")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")
    exe = os.path.join(tmp, "nil-deref-pie")
    subprocess.run([GO, "build", "-buildmode=pie", "-o", exe, "./nil-deref"], cwd=src, check=True,
                   capture_output=True, env=dict(os.environ, GOFLAGS="-mod=mod"), timeout=300)
    with open(exe, "rb") as f:
        assert struct.unpack("<H", f.read(18)[16:18])[0] == 3, "ET_DYN: a PIE"
    r, b, m = crash_bundle(tmp, [exe])
    assert r.returncode == 2
    check_go_core(tmp, b, m, "main.handle")


def test_bundle_with_a_core_reads_with_every_tar(tmp):
    _, b, m = crash_bundle(tmp, [go_example("nil-deref")])
    trees = extract_all_ways(b, os.path.join(tmp, "x"))
    assert trees[0] == trees[1] == trees[2]
    names = [n for n, _ in trees[0]]
    assert "core/core" in names and "core/exe" in names and "manifest.json" in names
    core = dict(trees[0])["core/core"]
    assert len(core) == m["core"]["bytes"]
    # crashbox's own reader (ls/show) still reads the bundle whole.
    r = subprocess.run([CRASHBOX, "show", b], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"threads: crashbox debug {b}".encode() in r.stdout, r.stdout
    # crashbox extract streams every member (a core of gigabytes is never
    # buffered) with its own mode: the core, which holds secrets, 0600.
    dest = os.path.join(tmp, "ex")
    r = subprocess.run([CRASHBOX, "extract", b, dest], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    st = os.stat(os.path.join(dest, "core/core"))
    assert st.st_size == m["core"]["bytes"] and st.st_mode & 0o777 == 0o600, oct(st.st_mode)
    assert os.stat(os.path.join(dest, "core/exe")).st_mode & 0o111
    assert os.stat(os.path.join(dest, "manifest.json")).st_mode & 0o777 == 0o644


def test_no_core_unless_asked_and_none_for_a_clean_exit(tmp):
    bdir = os.path.join(tmp, "b")
    os.makedirs(bdir)
    pol = write_policy(tmp, f"[bundle]\ndirectory = {bdir}\n")
    run([go_example("nil-deref")], policy=pol)
    (name,) = list_bundles(bdir)
    path = os.path.join(bdir, name)
    assert manifest(path)["core"] is None
    assert not [n for n in members(path) if n.startswith("core/")]
    pol2, bdir2 = core_policy(tmp)
    r = run(["true"], policy=pol2)
    assert r.returncode == 0 and list_bundles(bdir2) == []
    assert not [f for f in os.listdir(bdir2) if f.startswith(".crashbox-tmp-")]


# A process with a large, touched heap that ends with exit status 3 after
# saying "ready": slow enough to dump that budgets and kills land mid-dump.
BIG = ("import os,sys\n"
       "b = bytearray(os.urandom(1 << 20)) * {mib}\n"
       "print('ready', flush=True)\n"
       "sys.stdin.readline()\n"
       "os._exit(3)\n")


def big_service(tmp, extra, mib=768):
    pol, bdir = core_policy(tmp, extra)
    p = start(["python3", "-c", BIG.format(mib=mib)], policy=pol, stdin=subprocess.PIPE)
    line = p.stdout.readline()
    assert line.strip() == b"ready", line
    return p, bdir


def service_pid(crashbox_pid):
    with open(f"/proc/{crashbox_pid}/task/{crashbox_pid}/children") as f:
        return int(f.read().split()[0])


def test_size_cut_keeps_a_loadable_core(tmp):
    p, bdir = big_service(tmp, "max_size = 8MiB\n", mib=64)
    try:
        p.stdin.write(b"\n")
        p.stdin.flush()
        assert p.wait(timeout=120) == 3
    finally:
        kill_quietly(p)
    (name,) = list_bundles(bdir)
    check_cut_core(tmp, os.path.join(bdir, name), 8 << 20, "/usr/bin/python3")


def check_cut_core(tmp, bundle, max_size, exe=None):
    """A core cut by max_size: within it, every segment inside the file, and
    gdb loads it with every thread (exe: core/exe of the bundle if None)."""
    c = manifest(bundle)["core"]
    assert c["written"] and c["cut"] == "max_size", c
    assert c["bytes"] <= max_size, c
    x = os.path.join(tmp, "x")
    os.makedirs(x)
    subprocess.run(["tar", "--zstd", "-xf", bundle, "-C", x, "core/core"] + (["core/exe"] if exe is None else []),
                   check=True)
    core = os.path.join(x, "core/core")
    assert os.path.getsize(core) == c["bytes"], c
    r = subprocess.run(["readelf", "-lW", core], capture_output=True, timeout=60)
    assert r.returncode == 0 and b"LOAD" in r.stdout and not r.stderr, r.stderr
    # Every segment's data lies inside the file: nothing points past the cut.
    size = os.path.getsize(core)
    for off, filesz in re.findall(rb"LOAD\s+0x([0-9a-f]+) \S+ \S+ 0x([0-9a-f]+)", r.stdout):
        assert int(off, 16) + int(filesz, 16) <= size
    out, threads, rips, _ = gdb_threads(exe or os.path.join(x, "core/exe"), core)
    assert len(threads) == c["threads"] and len(rips) == len(threads), out
    return out


def test_budget_cut_lets_the_service_go(tmp):
    p, bdir = big_service(tmp, "budget = 100ms\n")
    try:
        p.stdin.write(b"\n")
        p.stdin.flush()
        assert p.wait(timeout=120) == 3
    finally:
        kill_quietly(p)
    (name,) = list_bundles(bdir)
    m = manifest(os.path.join(bdir, name))
    assert m["core"]["written"] and m["core"]["cut"] == "budget", m["core"]
    assert m["core"]["bytes"] < 768 << 20


def test_service_killed_mid_dump_never_hangs(tmp):
    p, bdir = big_service(tmp, "")
    try:
        svc = service_pid(p.pid)
        p.stdin.write(b"\n")
        p.stdin.flush()

        def traced():
            try:
                with open(f"/proc/{svc}/status") as f:
                    return re.search(r"^TracerPid:\s+(\d+)", f.read(), re.M).group(1) == str(p.pid)
            except OSError:
                return False
        assert wait_until(traced, timeout=30, step=0.005), "the dump never attached"
        os.kill(svc, 9)
        code = p.wait(timeout=60)
    finally:
        kill_quietly(p)
    assert code in (3, 137), code
    (name,) = list_bundles(bdir)
    b = os.path.join(bdir, name)
    m = manifest(b)
    assert m["core"]["written"] is False or m["core"]["cut"], m["core"]
    subprocess.run(["tar", "--zstd", "-tf", b], check=True, capture_output=True)
    assert not [f for f in os.listdir(bdir) if f.startswith(".crashbox-tmp-")]


THREADS = ("import os, threading, time\n"
           "threading.stack_size(256 << 10)\n"
           "def spawn():\n"
           "    while True:\n"
           "        threading.Thread(target=time.sleep, args=(0.05,), daemon=True).start()\n"
           "threading.Thread(target=spawn, daemon=True).start()\n"
           "time.sleep(0.5)\n"
           "os._exit(3)\n")


def test_threads_born_during_the_dump(tmp):
    for _ in range(2):
        r, b, m = crash_bundle(tmp, ["python3", "-c", THREADS], timeout=60)
        assert r.returncode == 3
        c = m["core"]
        assert c["written"] and c["threads"] >= 2, c
        x = os.path.join(tmp, "x")
        os.makedirs(x)
        subprocess.run(["tar", "--zstd", "-xf", b, "-C", x, "core/core"], check=True)
        out, threads, rips, _ = gdb_threads("/usr/bin/python3", os.path.join(x, "core/core"))
        assert len(threads) == c["threads"] and len(rips) == len(threads), out
        shutil.rmtree(x)
        shutil.rmtree(os.path.join(tmp, "bundles"))


def privileged_run(tmp, prefix, policy_extra="", bdir_owner=None):
    """Runs nil-deref under crashbox behind a privilege-changing prefix."""
    need_root("changing users and capabilities")
    bdir = os.path.join(tmp, "b")
    os.makedirs(bdir)
    os.chmod(tmp, 0o755)
    if bdir_owner is not None:
        os.chown(bdir, bdir_owner, bdir_owner)
    pol = write_policy(tmp, f"[core]\ndump = yes\n{policy_extra}")
    os.chmod(pol, 0o644)
    exe = go_example("nil-deref")
    r = subprocess.run(prefix + [CRASHBOX, "-p", pol, "-d", bdir, "--", exe], capture_output=True, timeout=120)
    assert r.returncode == 2, r.stderr
    (name,) = list_bundles(bdir)
    return os.path.join(bdir, name), manifest(os.path.join(bdir, name))


def test_core_of_a_service_of_another_user(tmp):
    # The service's uid change makes it non-dumpable: crashbox's
    # CAP_SYS_PTRACE (kept by the self-sandbox) is what lets it in.
    b, m = privileged_run(tmp, [], "[sandbox]\nuser = nobody\n")
    assert m["core"]["written"] and m["core"]["cut"] is None, m["core"]
    check_go_core(tmp, b, m, "main.handle")


def test_core_from_a_non_root_crashbox(tmp):
    b, m = privileged_run(tmp, ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"],
                          bdir_owner=65534)
    assert m["core"]["written"], m["core"]


def test_core_as_pid_1_with_every_capability_dropped(tmp):
    # As in a container started with --cap-drop ALL: crashbox is PID 1 of
    # its own pid namespace and the service's parent, which is all ptrace
    # needs for a service of the same user.
    if subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True).returncode:
        raise Skip("no pid namespaces here")
    b, m = privileged_run(tmp, ["unshare", "--pid", "--fork", "--mount-proc",
                                "setpriv", "--bounding-set", "-all", "--inh-caps", "-all", "--"])
    assert m["pid"] == 2, "the service is PID 2 under crashbox as PID 1"
    assert m["core"]["written"], m["core"]
    check_go_core(tmp, b, m, "main.handle")


def test_ptrace_refused_degrades_to_a_bundle_that_says_why(tmp):
    # Without CAP_SYS_PTRACE, a service that changed user cannot be traced.
    b, m = privileged_run(tmp, ["setpriv", "--bounding-set", "-all,+setuid,+setgid,+setpcap", "--inh-caps", "-all",
                                "--"], "[sandbox]\nuser = nobody\n")
    assert m["core"] == {"written": False, "bytes": 0, "threads": 0, "cut": None,
                         "why_not": "ptrace of the service not permitted"}, m["core"]
    assert m["crash"]["kind"] == "go-panic" and m["snapshot"]["taken"] == "exit-hook"
    assert not [n for n in members(b) if n.startswith("core/")]


def test_core_from_root_without_cap_sys_ptrace(tmp):
    # Docker's default capability set: root, no CAP_SYS_PTRACE. The kernel
    # lets crashbox reach its root service only while crashbox holds every
    # capability the service holds: its self-sandbox keeps those.
    b, m = privileged_run(tmp, ["setpriv", "--bounding-set", "-sys_ptrace", "--inh-caps", "-all", "--"])
    assert m["core"]["written"] and m["core"]["cut"] is None, m["core"]
    assert m["snapshot"]["missing"] == [], m["snapshot"]["missing"]
    status = member(b, "proc/status").decode()
    assert not int(re.search(r"^CapBnd:\s+(\w+)", status, re.M).group(1), 16) & 1 << 19, status
    check_go_core(tmp, b, m, "main.handle")
