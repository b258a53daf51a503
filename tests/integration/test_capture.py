"""Crash capture end to end: real Go programs crash under crashbox, and the
bundles are read back with tar and zstd."""
import itertools
import os
import re
import shlex
import signal
import subprocess
import time

from bundles import NAME_RE, extract_all_ways, list_bundles, manifest, member, members, only_bundle
from lib import CRASHBOX, EXAMPLES, Skip, kill_quietly, need_root, need_strace, sanitizer_build, wait_line, write_policy


def crash(tmp, example, *args, policy=None, env=None, sub="b", timeout=120):
    d = os.path.join(tmp, sub)
    os.makedirs(d, exist_ok=True)
    cmd = [CRASHBOX, "-d", d]
    if policy:
        cmd += ["-p", policy]
    cmd += ["--", os.path.join(EXAMPLES, example) if "/" not in example else example] + list(args)
    r = subprocess.run(cmd, capture_output=True, env=env, timeout=timeout)
    return r, d


def test_nil_deref_bundle_has_everything(tmp):
    r, d = crash(tmp, "nil-deref")
    assert r.returncode == 2, "the exit status is unchanged"
    path = only_bundle(d)
    m = NAME_RE.match(os.path.basename(path))
    assert m and m["service"] == "nil-deref" and m["kind"] == "go-panic", path
    assert oct(os.stat(path).st_mode & 0o777) == "0o640"
    man = manifest(path)
    assert man["schema"] == "crashbox.bundle/1"
    assert man["exit"] == {"code": 2, "signal": None, "core_dumped": False}
    c = man["crash"]
    assert c["kind"] == "go-panic"
    assert c["message"] == "runtime error: invalid memory address or nil pointer dereference"
    assert c["go_signal"] == "SIGSEGV"
    assert c["culprit"]["function"] == "main.handle" and c["culprit"]["line"] == 14
    assert c["goroutine"] == 1 and c["goroutines"] >= 1
    assert man["snapshot"]["taken"] == "exit-hook", man["snapshot"]
    assert man["snapshot"]["trigger"] == "exit_group(2)"
    assert man["go"]["version"].startswith("go1.")
    assert man["go"]["path"] == "crashbox.example/examples/nil-deref"
    assert man["memory"]["cgroup_version"] in (1, 2)
    names = members(path)
    assert names[0] == "manifest.json"
    for want in ["stderr.log", "crash.txt", "proc/maps", "proc/status", "proc/smaps_rollup",
                 "proc/limits", "proc/environ", "proc/fds", "proc/threads", "proc/cgroup",
                 "proc/mountinfo", "proc/oom_score_adj", "go/buildinfo.txt"]:
        assert want in names, (want, names)
    assert any(n.startswith("cgroup/memory.") for n in names)
    maps = member(path, "proc/maps").decode()
    assert "nil-deref" in maps, "maps of the live process, read at exit_group"
    assert member(path, "crash.txt").startswith(b"panic: runtime error")
    assert b"orders: serving" in member(path, "stderr.log")
    # The summary line for log pipelines.
    lines = [l for l in r.stderr.decode().splitlines() if l.startswith('{"crashbox":')]
    assert len(lines) == 1 and path in lines[0]


def test_every_reader_reads_the_bundle(tmp):
    r, d = crash(tmp, "custom-panic")
    path = only_bundle(d)
    gnu, bsd, pipe = extract_all_ways(path, os.path.join(tmp, "x"))
    assert gnu == bsd == pipe
    assert ("manifest.json" in dict(gnu))
    assert subprocess.run(["zstd", "-t", path], capture_output=True).returncode == 0, "checksum verifies"


def test_fingerprint_is_stable_across_runs(tmp):
    fps = []
    for i in range(2):
        r, d = crash(tmp, "index-out-of-range", sub=f"run{i}")
        fps.append(manifest(only_bundle(d))["crash"]["fingerprint"])
    assert fps[0] == fps[1]
    r, d = crash(tmp, "nil-deref", sub="other")
    assert manifest(only_bundle(d))["crash"]["fingerprint"] != fps[0]


EXPECT = [
    # example, exit code (None: signal), kind, message prefix, culprit
    ("custom-panic", 2, "go-panic", "reconcile batch 3: ledger out of balance", "main.reconcile"),
    ("index-out-of-range", 2, "go-panic", "runtime error: index out of range [5] with length 3", "main.pick"),
    ("concurrent-map-writes", 2, "go-fatal", "concurrent map writes", "main.main.func1"),
    ("deadlock", 2, "go-fatal", "all goroutines are asleep - deadlock!", "main.main"),
    ("stack-overflow", 2, "go-fatal", "stack overflow", "main.descend"),
    ("recovered-repanic", 2, "go-panic", "process failed: runtime error", "main.process.func1"),
    ("panic-in-goroutine", 2, "go-panic", "job 3: checksum mismatch", "main.consume"),
    ("exit-3", 3, "exit", "exit status 3: config: missing DATABASE_URL, giving up", None),
    ("log-fatal", 1, "exit", "exit status 1: ", None),
    ("cgo-segv", 2, "go-fatal", "SIGSEGV: segmentation violation", "main._Cfunc_crash_in_c"),
    ("log-flood", 2, "go-panic", "assignment to entry in nil map", "main.main"),
    ("data-race", 66, "race", "data race: ", "main.main.func1"),
]


def test_each_example_crashes_as_expected(tmp):
    for example, code, kind, prefix, culprit in EXPECT:
        r, d = crash(tmp, example, sub=example)
        assert r.returncode == code, (example, r.returncode, r.stderr[-2000:])
        man = manifest(only_bundle(d))
        c = man["crash"]
        assert c["kind"] == kind, (example, c)
        assert c["message"].startswith(prefix), (example, c["message"])
        if culprit:
            assert c["culprit"]["function"] == culprit, (example, c["culprit"])
        assert man["snapshot"]["taken"] == "exit-hook", (example, man["snapshot"])
        assert man["exit"]["code"] == code


def test_log_fatal_message_is_the_last_log_line(tmp):
    r, d = crash(tmp, "log-fatal")
    msg = manifest(only_bundle(d))["crash"]["message"]
    assert msg.endswith("listen tcp :8080: bind: address already in use"), msg


def test_gotraceback_crash_dies_of_sigabrt_and_is_caught_at_tgkill(tmp):
    r, d = crash(tmp, "traceback-crash")
    assert r.returncode == 128 + signal.SIGABRT
    man = manifest(only_bundle(d))
    assert man["exit"]["signal"] == "SIGABRT"
    assert man["crash"]["kind"] == "go-panic"
    assert man["crash"]["culprit"]["function"] == "main.(*parser).port"
    assert man["snapshot"]["trigger"] in ("tgkill(SIGABRT)", "tkill(SIGABRT)", "kill(SIGABRT)"), man["snapshot"]


def test_ten_thousand_goroutines(tmp):
    r, d = crash(tmp, "goroutines-10k")
    assert r.returncode == 2
    man = manifest(only_bundle(d))
    assert man["crash"]["kind"] == "go-panic"
    assert man["crash"]["goroutines"] >= 10001
    assert man["crash"]["message"] == "shutting down with 10000 workers parked"


def test_sigquit_goroutine_dump_through_crashbox(tmp):
    d = os.path.join(tmp, "b")
    os.makedirs(d)
    p = subprocess.Popen([CRASHBOX, "-d", d, "--", os.path.join(EXAMPLES, "sleeper")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_line(p.stdout, "ready")
        time.sleep(0.1)
        os.kill(p.pid, signal.SIGQUIT)
        assert p.wait(timeout=30) == 2
        man = manifest(only_bundle(d))
        assert man["crash"]["kind"] == "go-fatal"
        assert man["crash"]["go_signal"] == "SIGQUIT"
        assert man["crash"]["goroutines"] >= 1
    finally:
        kill_quietly(p)


def test_c_program_signal_is_kind_signal(tmp):
    r, d = crash(tmp, "/bin/sh", "-c", "echo dying >&2; kill -SEGV $$")
    assert r.returncode == 128 + signal.SIGSEGV
    man = manifest(only_bundle(d))
    assert man["crash"]["kind"] == "signal"
    assert man["exit"]["signal"] == "SIGSEGV"
    assert man["go"] is None, "not a Go executable"
    assert man["snapshot"]["taken"] == "exit-hook", "its kill(self, SIGSEGV) was trapped"


def test_clean_exit_writes_no_bundle(tmp):
    r, d = crash(tmp, "clean")
    assert r.returncode == 0
    assert list_bundles(d) == []
    assert b'{"crashbox":' not in r.stderr


def test_forged_report_with_exit_0_stays_clean(tmp):
    r, d = crash(tmp, "/bin/sh", "-c", "printf 'panic: forged\\n\\ngoroutine 1 [running]:\\nmain.main()\\n\\t/x.go:1\\n' >&2; exit 0")
    assert r.returncode == 0
    assert list_bundles(d) == []


def test_normal_exit_codes_from_policy(tmp):
    pol = write_policy(tmp, "[capture]\nnormal_exit_codes = 0 3\n")
    r, d = crash(tmp, "exit-3", policy=pol)
    assert r.returncode == 3
    assert list_bundles(d) == []


def test_exit_hook_off_means_post_mortem_with_a_reason(tmp):
    pol = write_policy(tmp, "[capture]\nexit_hook = no\n")
    r, d = crash(tmp, "nil-deref", policy=pol)
    assert r.returncode == 2
    man = manifest(only_bundle(d))
    assert man["snapshot"]["taken"] == "post-mortem"
    assert "policy" in man["snapshot"]["why_post_mortem"]
    assert "proc/maps" not in members(only_bundle(d))
    assert man["crash"]["kind"] == "go-panic", "the report is still parsed"


def test_secrets_in_environ_are_redacted(tmp):
    pol = write_policy(tmp, "[capture]\nredact = STRIPE_*\n")
    env = dict(os.environ, API_TOKEN="tok-123", DB_PASSWORD="pw-456", AWS_REGION="eu-x",
               STRIPE_ACCOUNT="acct-789", HARMLESS="visible")
    r, d = crash(tmp, "nil-deref", policy=pol, env=env)
    environ = member(only_bundle(d), "proc/environ").decode()
    for secret in ["tok-123", "pw-456", "eu-x", "acct-789"]:
        assert secret not in environ, secret
    assert "API_TOKEN=[redacted]" in environ
    assert "HARMLESS=visible" in environ


def test_unwritable_bundle_dir_loses_nothing_but_the_bundle(tmp):
    ro = os.path.join(tmp, "ro")
    os.makedirs(ro)
    mounted = False
    if os.geteuid() == 0:
        # root writes through permissions: a read-only mount stops it.
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro], capture_output=True)
        if r.returncode:
            raise Skip(f"cannot mount a read-only tmpfs: {r.stderr.decode().strip()}")
        mounted = True
    else:
        os.chmod(ro, 0o500)
    try:
        r = subprocess.run([CRASHBOX, "-d", ro, "--", os.path.join(EXAMPLES, "nil-deref")],
                           capture_output=True, timeout=60)
        assert r.returncode == 2
        err = r.stderr.decode()
        assert err.count("cannot write crash bundle") == 1, "logged once, with its reason"
        assert "Read-only file system" in err or "Permission denied" in err
        assert '"bundle":null' in err, "the summary line still reaches stderr"
        assert os.listdir(ro) == [], "no partial bundle"
    finally:
        if mounted:
            subprocess.run(["umount", ro])
        os.chmod(ro, 0o700)


_cgroups_made = itertools.count()


def memory_cgroup(tmp, limit):
    """A child memory cgroup with a limit, or Skip. Its name is this
    process's and a count's: a test may make several, in directories of
    the same name."""
    need_root("creating a memory cgroup")
    if sanitizer_build():
        raise Skip("a sanitizer build's crashbox shares the small memory limit with the service")
    v1 = "/sys/fs/cgroup/memory"
    v2 = "/sys/fs/cgroup"
    if os.path.exists(os.path.join(v1, "memory.limit_in_bytes")):
        own = open("/proc/self/cgroup").read()
        rel = [l.split(":", 2)[2] for l in own.splitlines() if ":memory:" in l][0].strip()
        cg = os.path.join(v1, rel.lstrip("/"), f"crashbox-mem-{os.getpid()}-{next(_cgroups_made)}-{os.path.basename(tmp)}")
        limit_file = "memory.limit_in_bytes"
    elif os.path.exists(os.path.join(v2, "cgroup.controllers")) and "memory" in open(os.path.join(v2, "cgroup.controllers")).read():
        cg = os.path.join(v2, f"crashbox-mem-{os.getpid()}-{next(_cgroups_made)}-{os.path.basename(tmp)}")
        limit_file = "memory.max"
    else:
        raise Skip("no memory cgroup controller can be used here (neither v1 nor v2)")
    try:
        os.mkdir(cg)
    except OSError as e:
        raise Skip(f"cannot create a memory cgroup: {e}")
    with open(os.path.join(cg, limit_file), "w") as f:
        f.write(str(limit))
    sw = os.path.join(cg, "memory.memsw.limit_in_bytes")
    if os.path.exists(sw):
        with open(sw, "w") as f:
            f.write(str(limit))
    return cg


def remove_cgroup(cg):
    for _ in range(50):
        try:
            os.rmdir(cg)
            return
        except OSError:
            time.sleep(0.1)


def has_cap_sys_resource():
    for line in open("/proc/self/status"):
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << 24))
    return False


def crashbox_was_the_victim(returncode):
    """crashbox, in the service's memory cgroup and unprotected (no
    CAP_SYS_RESOURCE to lower its oom_score_adj), OOM-killed itself. Seen
    up to one run in 30 of an OOM test: the memory of a process the OOM
    killer just ended is still charged for a moment, the dying process is
    no longer in the kernel's list, and an allocation then (crashbox
    faulting a page for a snapshot) kills again: crashbox is what is left."""
    return returncode == -signal.SIGKILL and not has_cap_sys_resource()


def oom_attempts(tmp, once, tries=3):
    """once(directory) in a fresh directory each time until it returns
    something other than None (None: crashbox was the victim), three
    times at most, then Skip."""
    for attempt in range(tries):
        run_dir = os.path.join(tmp, f"run{attempt}")
        os.makedirs(run_dir)
        got = once(run_dir)
        if got is not None:
            return got
    raise Skip(f"crashbox, in the cgroup and unprotected here, was the OOM killer's victim {tries} times")


def cgroup_run(tmp, limit, service, policy=None, env=None, timeout=120):
    """crashbox -d TMP/b [-p policy] -- service (a shell word list), in a
    fresh memory cgroup of limit bytes: (r, TMP/b)."""
    cg = memory_cgroup(tmp, limit)
    try:
        d = os.path.join(tmp, "b")
        os.makedirs(d)
        pol = f"-p {policy} " if policy else ""
        # The shell moves itself into the cgroup, then becomes crashbox.
        script = f"echo $$ > {cg}/cgroup.procs && exec {CRASHBOX} -d {d} {pol}-- {service}"
        r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=timeout, env=env)
    finally:
        remove_cgroup(cg)
    return r, d


def oom_run(tmp, limit, service, **kw):
    """cgroup_run until the OOM killer ends the service; again when crashbox
    was the victim (oom_attempts)."""
    def once(run_dir):
        r, d = cgroup_run(run_dir, limit, service, **kw)
        if crashbox_was_the_victim(r.returncode):
            return None
        assert r.returncode == 128 + signal.SIGKILL, (r.returncode, r.stderr[-2000:])
        return r, d
    return oom_attempts(tmp, once)


def test_memory_that_falls_back_drops_its_pre_oom_snapshots(tmp):
    cg = memory_cgroup(tmp, 96 << 20)
    try:
        # Two runs back to back in one cgroup: the second sees its crossing
        # as well (it missed 3 in 10 before a signalled watermark counted
        # as reached).
        for keep in (False, True):
            d = os.path.join(tmp, f"b{keep}")
            os.makedirs(d)
            pol = write_policy(tmp, f"[memory]\nkeep_memory_high = {'yes' if keep else 'no'}\n", f"m{keep}.policy")
            script = f"echo $$ > {cg}/cgroup.procs && exec {CRASHBOX} -p {pol} -d {d} -- {EXAMPLES}/memory-spike"
            r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=120)
            assert r.returncode == 0, r.stderr[-2000:]
            assert b"crossed the 80% watermark" in r.stderr
            assert [f for f in os.listdir(d) if f.startswith(".crashbox-pending")] == []
            bundles = list_bundles(d)
            if keep:
                assert len(bundles) == 1 and bundles[0].endswith("-memory-high.tar.zst"), bundles
                assert "pre-oom/80/" not in members(os.path.join(d, bundles[0]))[0]
                assert "proc/status" in members(os.path.join(d, bundles[0]))
            else:
                assert bundles == [], "memory fell back: nothing kept"
    finally:
        remove_cgroup(cg)


def test_memory_falling_through_its_watermarks_crosses_none(tmp):
    """v1 thresholds signal a crossing down as well as up. The spike passes
    50, 70 and 90% (in one rise or several), holds, and gives it all back:
    usage falls through the three at once, and no event on the way down may
    be taken for a crossing (one was, at a usage of a few MiB, after the
    first had dropped the pending snapshots)."""
    pol = write_policy(tmp, "[memory]\nwatermarks = 50 70 90\n")
    r, d = cgroup_run(tmp, 88 << 20, f"{EXAMPLES}/memory-spike", policy=pol)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 0, err[-2000:]
    crossings = re.findall(r"memory at (\d+) of (\d+) bytes crossed the (\d+)% watermark", err)
    assert crossings, err[-2000:]
    for usage, limit, pct in crossings:
        # Read short by a charge batch or so, not by tens of MiB.
        assert int(usage) >= int(limit) * (int(pct) - 2) // 100, (crossings, err[-2000:])
    after = err[err.index("spike: released"):]
    assert "crossed the" not in after, err[-2000:]
    assert list_bundles(d) == [], "memory fell back: nothing kept"


def test_restarts_at_once_in_one_memory_cgroup_see_every_crossing(tmp):
    """crashbox's own restarts with no delay: each run registers its
    thresholds anew in the same cgroup while the kernel drops the last
    run's, and each sees its 80% crossing."""
    pol = write_policy(tmp, "[restart]\nmode = always\nmin_delay = 0\nmax_delay = 0\nburst = 5\n")
    r, _ = cgroup_run(tmp, 96 << 20, f"{EXAMPLES}/memory-spike", policy=pol)
    assert r.returncode == 0, r.stderr[-2000:]
    runs = 1 + r.stderr.count(b"restarting the service in 0ms")
    crossings = r.stderr.count(b"crossed the 80% watermark")
    assert runs == 6 and crossings == runs, (runs, crossings, r.stderr[-3000:])


def test_thresholds_watch_on_without_their_timer(tmp):
    """The timer that reads usage at the start is an extra for v1
    thresholds: made to fail (EMFILE, strace's fault injection), the
    thresholds still see the 80% crossing instead of the whole watch
    being given up."""
    need_strace()
    cg = memory_cgroup(tmp, 96 << 20)
    try:
        d = os.path.join(tmp, "b")
        os.makedirs(d)
        pol = write_policy(tmp, "[capture]\nexit_hook = no\n")
        script = (f"echo $$ > {cg}/cgroup.procs && exec strace -f -qq -o /dev/null -e trace=timerfd_create "
                  f"-e inject=timerfd_create:error=EMFILE {CRASHBOX} -p {pol} -d {d} -- {EXAMPLES}/memory-spike")
        r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        assert b"cannot watch the memory cgroup" not in r.stderr, r.stderr[-2000:]
        assert b"crossed the 80% watermark" in r.stderr, r.stderr[-2000:]
    finally:
        remove_cgroup(cg)


def index_lines(d):
    path = os.path.join(d, ".crashbox-index")
    if not os.path.exists(path):
        return []
    return [line.rstrip("\n").split("\t") for line in open(path, encoding="utf-8", errors="replace")]


def test_a_memory_high_bundle_goes_through_the_store(tmp):
    """A kept memory-high snapshot is a record in the one store: an index
    line, a crashbox.bundle/1 manifest, and the rate limit of its service
    and fingerprint (the second run's is suppressed, said in the index)."""
    cg = memory_cgroup(tmp, 96 << 20)
    try:
        d = os.path.join(tmp, "b")
        os.makedirs(d)
        pol = write_policy(tmp, "[memory]\nkeep_memory_high = yes\n[retention]\nrate_limit_burst = 1\n"
                                "rate_limit_window = 1h\n")
        script = f"echo $$ > {cg}/cgroup.procs && exec {CRASHBOX} -p {pol} -d {d} -- {EXAMPLES}/memory-spike"
        # Two runs that see the spike (a 300 ms one: a loaded machine may
        # poll past it, and such a run keeps nothing).
        crossed = []
        for run in range(5):
            r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=120)
            assert r.returncode == 0, r.stderr[-2000:]
            if b"crossed the 80% watermark" in r.stderr:
                crossed.append(r)
            if len(crossed) == 2:
                break
        assert len(crossed) == 2, "the spike was seen in fewer than two of five runs"
        r = crossed[1]
        bundles = list_bundles(d)
        assert len(bundles) == 1 and bundles[0].endswith("-memory-high.tar.zst"), bundles
        man = manifest(os.path.join(d, bundles[0]))
        assert man["schema"] == "crashbox.bundle/1" and man["crash"]["kind"] == "memory-high", man["crash"]
        assert [w["percent"] for w in man["memory"]["watermarks_crossed"]] == [80], man["memory"]
        idx = index_lines(d)
        assert [(f[1], f[4]) for f in idx] == [("B", "memory-high"), ("S", "memory-high")], idx
        assert idx[0][7] == bundles[0] and idx[0][5] == idx[1][5], idx
        assert b"snapshot was rate-limited" in r.stderr
    finally:
        remove_cgroup(cg)


def test_oom_kill_in_a_memory_cgroup(tmp):
    _, d = oom_run(tmp, 96 << 20, f"{EXAMPLES}/unbounded-alloc 20ms")
    man = manifest(only_bundle(d))
    assert man["crash"]["kind"] == "oom-kill", man["crash"]
    assert man["memory"]["oom_kills"] > man["memory"]["oom_kills_at_start"]
    assert man["memory"]["limit_bytes"] == 96 << 20
    assert NAME_RE.match(os.path.basename(only_bundle(d)))["kind"] == "oom-kill"
    # The pre-OOM snapshots taken on the way up are in it.
    crossed = [w["percent"] for w in man["memory"]["watermarks_crossed"]]
    assert crossed == [80, 90, 95], man["memory"]["watermarks_crossed"]
    assert man["memory"]["watch"]["by"] == ("thresholds" if ":memory:" in open("/proc/self/cgroup").read()
                                            else "events+psi+poll"), man["memory"]["watch"]
    names = members(only_bundle(d))
    for pct in (80, 90, 95):
        assert f"pre-oom/{pct}/proc/status" in names and f"pre-oom/{pct}/cgroup/memory.stat" in names
    assert "unbounded-alloc" in member(only_bundle(d), "pre-oom/95/proc/maps").decode()
    assert [f for f in os.listdir(d) if f.startswith(".crashbox-pending")] == []


def test_a_service_that_starts_past_a_watermark_gets_its_snapshot(tmp):
    """Another process of the cgroup holds a third of the limit when the
    service starts: the 25% watermark is past already, and a v1 threshold
    registered then never fires (the kernel signals crossings, not levels).
    The first reading at start sees it (without it, the 25% snapshot came
    only with the next threshold's event, near 75%); the 80% crossing comes
    as an event. The service grows past the holder: the OOM killer takes it."""
    cg = memory_cgroup(tmp, 96 << 20)
    hog = None
    try:
        hold = "import sys; b = b'x' * (32 << 20); print('held', flush=True); sys.stdin.read()"
        hog = subprocess.Popen(["sh", "-c", f"echo $$ > {cg}/cgroup.procs && exec python3 -c \"{hold}\""],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        wait_line(hog.stdout, "held")
        d = os.path.join(tmp, "b")
        os.makedirs(d)
        pol = write_policy(tmp, "[memory]\nwatermarks = 25 80\n")
        script = f"echo $$ > {cg}/cgroup.procs && exec {CRASHBOX} -p {pol} -d {d} -- {EXAMPLES}/unbounded-alloc 50ms"
        r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=120)
        assert r.returncode == 128 + signal.SIGKILL, (r.returncode, r.stderr[-1000:])
        man = manifest(only_bundle(d))
        assert man["crash"]["kind"] == "oom-kill", man["crash"]
        crossed = man["memory"]["watermarks_crossed"]
        assert [w["percent"] for w in crossed] == [25, 80], (crossed, r.stderr[-2000:])
        # At start: the holder's third and the service's first MiB, not
        # the 75% of the next event (a climb of 80 MB/s reaches 70% in a
        # third of a second).
        assert 32 << 20 <= crossed[0]["usage_bytes"] < (96 << 20) * 70 // 100, crossed
        assert "pre-oom/25/cgroup/memory.stat" in members(only_bundle(d))
    finally:
        if hog:
            hog.kill()
            hog.wait()
        remove_cgroup(cg)


def v2_fixture_tree(tmp, files):
    """A v2 cgroup tree at tmp/cg with files in the cgroup our own "0::"
    line names: (root, cgroup directory), or Skip."""
    own = [l for l in open("/proc/self/cgroup").read().splitlines() if l.startswith("0::")]
    if not own:
        raise Skip("this host has no unified (v2) cgroup line in /proc/self/cgroup")
    root = os.path.join(tmp, "cg")
    cg = os.path.join(root, own[0][3:].lstrip("/"))
    os.makedirs(cg, exist_ok=True)
    with open(os.path.join(root, "cgroup.controllers"), "w") as f:
        f.write("cpu io memory pids\n")
    for name, text in files.items():
        with open(os.path.join(cg, name), "w") as f:
            f.write(text)
    return root, cg


def test_cgroup_v2_oom_kill_from_a_fixture_tree(tmp):
    # No v2 memory controller here (a hybrid host): a fixture tree stands in
    # for /sys/fs/cgroup, at the path our own "0::" line names, and the test
    # plays the kernel by raising memory.events' oom_kill before the SIGKILL.
    files = {"memory.max": "134217728\n", "memory.current": "134213632\n", "memory.peak": "134217728\n",
             "memory.events": "low 0\nhigh 0\nmax 9\noom 1\noom_kill 0\noom_group_kill 0\n",
             "memory.stat": "anon 130023424\nfile 4194304\n",
             "memory.pressure": "some avg10=40.00 avg60=9.00 avg300=2.00 total=999\n"}
    root, cg = v2_fixture_tree(tmp, files)
    d = os.path.join(tmp, "b")
    os.makedirs(d)
    env = dict(os.environ, CRASHBOX_CGROUP_ROOT=root)
    p = subprocess.Popen([CRASHBOX, "-d", d, "--", "sh", "-c", "echo ready; read x; kill -9 $$"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        wait_line(p.stdout, "ready")
        with open(os.path.join(cg, "memory.events"), "w") as f:
            f.write("low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 1\n")
        p.stdin.write(b"go\n")
        p.stdin.close()
        assert p.wait(timeout=30) == 128 + signal.SIGKILL
        path = only_bundle(d)
        man = manifest(path)
        assert man["crash"]["kind"] == "oom-kill"
        mem = man["memory"]
        assert mem["cgroup_version"] == 2
        assert mem["limit_bytes"] == 134217728 and mem["peak_bytes"] == 134217728
        assert (mem["oom_kills_at_start"], mem["oom_kills"]) == (0, 1)
        assert mem["oom_group_kills"] == 1
        # Neither memory.events nor PSI fires at a usage level: v2 polls too.
        assert mem["watch"]["by"] == "events+psi+poll", mem["watch"]
        names = members(path)
        for f in ["cgroup/memory.events", "cgroup/memory.max", "cgroup/memory.pressure", "cgroup/memory.stat"]:
            assert f in names, (f, names)
    finally:
        kill_quietly(p)


def test_crashbox_out_of_the_oom_killers_reach_and_the_service_not(tmp):
    need_root("lowering oom_score_adj needs CAP_SYS_RESOURCE")
    eff = int([l for l in open("/proc/self/status") if l.startswith("CapEff:")][0].split()[1], 16)
    if not eff & (1 << 24):
        raise Skip("no CAP_SYS_RESOURCE here: crashbox cannot lower its oom_score_adj (it then relies on "
                   "the state file, tested below)")
    r = subprocess.run([CRASHBOX, "--", "sh", "-c", "cat /proc/$PPID/oom_score_adj /proc/self/oom_score_adj"],
                       capture_output=True, timeout=30)
    mine, service = r.stdout.decode().split()
    assert mine == "-1000", "crashbox survives a group OOM kill"
    assert service == open("/proc/self/oom_score_adj").read().strip(), "the service keeps what it was given"


def killed_together(tmp, hold_memory):
    """Runs a service under crashbox in a 96 MiB cgroup, then kills both at
    once, as a group OOM kill with crashbox in reach would."""
    # 88 MiB: the held 80 MiB (and the runtime's own) is past the 90% watermark.
    cg = memory_cgroup(tmp, 88 << 20)
    d = os.path.join(tmp, "b")
    os.makedirs(d, exist_ok=True)
    pol = write_policy(tmp, "[service]\nname = api\n", "api.policy")
    svc = [f"{EXAMPLES}/memory-spike", "hold", "20ms"] if hold_memory else ["sh", "-c", "echo holding; exec sleep 60"]
    script = f"echo $$ > {cg}/cgroup.procs && exec {CRASHBOX} -p {pol} -d {d} -- {shlex.join(svc)}"
    p = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        try:
            wait_line(p.stdout, "holding", timeout=60)
        except AssertionError:
            raise AssertionError(p.stderr.read().decode(errors="replace")[-2000:])
        time.sleep(0.5)
        run_dir = os.path.join(d, ".crashbox-run")  # its own directory: the start-up scan stays small
        assert [f for f in os.listdir(run_dir) if f.startswith(".crashbox-state-api-")], "a state file while it runs"
        with open(os.path.join(cg, "cgroup.procs")) as f:
            pids = [int(x) for x in f.read().split()]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        kill_quietly(p)
        remove_cgroup(cg)
    # The container restarts: crashbox starts again with the same directory.
    r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", "true"], capture_output=True, timeout=60)
    assert r.returncode == 0
    return d, r


def test_killed_along_with_the_service_near_the_limit_is_an_oom_kill_next_start(tmp):
    d, r = killed_together(tmp, hold_memory=True)
    bundles = list_bundles(d)
    assert len(bundles) == 1 and bundles[0].endswith("-oom-kill.tar.zst"), \
        (bundles, member(os.path.join(d, bundles[0]), "state.txt"))
    man = manifest(os.path.join(d, bundles[0]))
    assert man["crash"]["kind"] == "oom-kill"
    assert "inferred at the next start" in man["crash"]["note"]
    crossed = [w["percent"] for w in man["memory"]["watermarks_crossed"]]
    assert 80 in crossed and 90 in crossed, crossed
    names = members(os.path.join(d, bundles[0]))
    assert "pre-oom/90/proc/status" in names and "state.txt" in names
    assert not [f for f in os.listdir(d) if f.startswith(".crashbox-state") or f.startswith(".crashbox-pending")]
    run_dir = os.path.join(d, ".crashbox-run")
    assert not os.path.exists(run_dir) or not [f for f in os.listdir(run_dir) if f.startswith(".crashbox-state")]
    assert b"ended without crashbox's end record" in r.stderr


def test_killed_along_with_the_service_far_from_the_limit_is_supervisor_killed(tmp):
    d, r = killed_together(tmp, hold_memory=False)
    bundles = list_bundles(d)
    assert len(bundles) == 1 and bundles[0].endswith("-supervisor-killed.tar.zst"), bundles
    man = manifest(os.path.join(d, bundles[0]))
    assert "not near its limit" in man["crash"]["note"]


def test_a_live_crashbox_state_is_never_taken_for_a_dead_one(tmp):
    d = os.path.join(tmp, "b")
    pol = write_policy(tmp, "[service]\nname = api\n", "api.policy")
    p = subprocess.Popen([CRASHBOX, "-p", pol, "-d", d, "--", "sh", "-c", "echo up; exec sleep 30"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_line(p.stdout, "up")
        r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", "true"], capture_output=True, timeout=30)
        assert r.returncode == 0 and list_bundles(d) == []
    finally:
        kill_quietly(p)


def shim_policy(tmp):
    return write_policy(tmp, "[capture]\ngo_shim = yes\n", "shim.policy")


def test_shim_report_arrives_even_with_stderr_closed(tmp):
    r, d = crash(tmp, "shim-service", "panic", policy=shim_policy(tmp))
    assert r.returncode == 2
    man = manifest(only_bundle(d))
    assert man["crash_report_source"] == "shim"
    assert man["crash"]["message"] == "cache corrupted"
    assert member(only_bundle(d), "crash.txt").startswith(b"panic: cache corrupted")


def go_tool():
    import glob
    found = sorted(glob.glob("/usr/lib/go-1.2[3-9]/bin/go"))
    return found[-1] if found else None


def test_oom_kill_with_the_shim_has_a_heap_profile_pprof_reads(tmp):
    go = go_tool()
    if not go:
        raise Skip("no Go toolchain for go tool pprof")

    _, d = oom_run(tmp, 128 << 20, f"{EXAMPLES}/shim-service 10ms", policy=shim_policy(tmp))
    b = only_bundle(d)
    assert manifest(b)["crash"]["kind"] == "oom-kill"
    names = members(b)
    # The heap profile is asked last, off the supervision loop: the highest
    # watermark whose answers all came before the kill.
    full = [p[:-len("go/heap.pb.gz")] for p in names if p.startswith("pre-oom/") and p.endswith("/go/heap.pb.gz")]
    assert full, [n for n in names if n.startswith("pre-oom/")]
    top = max(full, key=lambda p: int(p.split("/")[1]))
    for f in ["go/heap.pb.gz", "go/memstats.json", "go/goroutines.txt", "go/runtime.json"]:
        assert top + f in names, (f, [n for n in names if n.startswith(top)])
    assert b'"HeapAlloc"' in member(b, top + "go/memstats.json")
    prof = os.path.join(tmp, "heap.pb.gz")
    with open(prof, "wb") as f:
        f.write(member(b, top + "go/heap.pb.gz"))
    env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off", HOME=tmp,
               GOCACHE=os.path.join(tmp, "gocache"))
    top = subprocess.run([go, "tool", "pprof", "-top", "-sample_index=inuse_space", prof],
                         capture_output=True, timeout=120, env=env)
    assert top.returncode == 0, top.stderr
    assert b"main.cacheResponse" in top.stdout, top.stdout[-1500:]


def test_a_service_hovering_at_a_watermark_costs_few_snapshots(tmp):
    cg = memory_cgroup(tmp, 96 << 20)
    try:
        d = os.path.join(tmp, "b")
        os.makedirs(d)
        script = f"echo $$ > {cg}/cgroup.procs && exec {CRASHBOX} -d {d} -- {EXAMPLES}/memory-hover"
        r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr[-1500:]
    finally:
        remove_cgroup(cg)
    err = r.stderr.decode()
    assert "hover: done" in err
    crossings = [l for l in err.splitlines() if "crossed the" in l and "watermark" in l]
    # Some 30 trips over 90% in 3 s: one snapshot per watermark (80, 90, maybe 95).
    assert 1 <= len(crossings) <= 3, crossings
    assert [f for f in os.listdir(d) if f.startswith(".crashbox-pending")] == []
