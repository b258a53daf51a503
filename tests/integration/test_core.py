"""crashbox as an init: exit status, signals, reaping, what the child gets."""
import os
import signal
import subprocess
import time

from lib import (CRASHBOX, EXAMPLES, HELPER, Skip, alive, children_of, kill_quietly, need_root, run,
                 start, wait_line, wait_until, write_policy)


def test_exit_codes_pass_through_unchanged(tmp):
    for code in [0, 1, 2, 3, 42, 100, 125, 126, 127, 128, 200, 254, 255]:
        r = run(["sh", "-c", f"exit {code}"])
        assert r.returncode == code, (code, r.returncode, r.stderr)


def test_death_by_signal_is_128_plus_n(tmp):
    for sig in [signal.SIGHUP, signal.SIGINT, signal.SIGKILL, signal.SIGSEGV,
                signal.SIGABRT, signal.SIGTERM, signal.SIGUSR1]:
        r = run(["sh", "-c", f"kill -{int(sig)} $$"])
        assert r.returncode == 128 + sig, (sig, r.returncode, r.stderr)


def test_exec_failures_are_127_and_126_with_a_reason(tmp):
    r = run(["/nonexistent/command"])
    assert r.returncode == 127
    assert b"crashbox: error: cannot run '/nonexistent/command': command not found" in r.stderr
    r = run(["no-such-command-anywhere"])
    assert r.returncode == 127
    plain = os.path.join(tmp, "plain")
    with open(plain, "w") as f:
        f.write("not a program\n")
    os.chmod(plain, 0o644)
    r = run([plain])
    assert r.returncode == 126, r
    assert b"Permission denied" in r.stderr
    assert r.stderr.count(b"\n") == 1, "one line of reason"
    r = run([tmp])  # a directory
    assert r.returncode == 126


def test_own_failures_use_the_documented_range(tmp):
    r = subprocess.run([CRASHBOX], capture_output=True)
    assert r.returncode == 121
    r = subprocess.run([CRASHBOX, "--bogus", "--", "true"], capture_output=True)
    assert r.returncode == 121
    bad = write_policy(tmp, "[signals]\ngrace = 1s\n")
    r = run(["true"], policy=bad)
    assert r.returncode == 122
    assert f"{bad}:2: unknown key 'grace' in [signals]".encode() in r.stderr
    r = run(["true"], policy=os.path.join(tmp, "missing.policy"))
    assert r.returncode == 122
    r = subprocess.run([CRASHBOX, "--version"], capture_output=True)
    assert r.returncode == 0 and r.stdout.startswith(b"crashbox ")
    r = subprocess.run([CRASHBOX, "--help"], capture_output=True)
    assert r.returncode == 0 and b"Usage: crashbox" in r.stdout


def test_policy_from_environment_variable(tmp):
    bad = write_policy(tmp, "[nope]\n")
    env = dict(os.environ, CRASHBOX_POLICY=bad)
    r = run(["true"], env=env)
    assert r.returncode == 122 and b":1: unknown section [nope]" in r.stderr


def test_check_validates_and_prints_normalized(tmp):
    good = write_policy(tmp, "[signals]\ngrace_period = 90s\n", "good.policy")
    r = subprocess.run([CRASHBOX, "check", good], capture_output=True)
    assert r.returncode == 0, r.stderr
    assert b"grace_period = 90s\n" in r.stdout
    assert b"tail_size = 8MiB\n" in r.stdout, "defaults are part of the normalized policy"
    bad = write_policy(tmp, "[stderr]\ntail_size = huge\n[x]\n", "bad.policy")
    r = subprocess.run([CRASHBOX, "check", good, bad], capture_output=True)
    assert r.returncode == 122
    lines = r.stderr.decode().splitlines()
    assert f"{bad}:2: tail_size: invalid size (examples: 8MiB, 512K, 65536)" in lines
    assert f"{bad}:3: unknown section [x]" in lines


def test_child_gets_clean_mask_fds_cwd_and_own_group(tmp):
    # Dispositions crashbox's caller set must not leak either.
    def ignore_some():
        for s in (signal.SIGRTMIN, signal.SIGRTMAX):
            signal.signal(s, signal.SIG_IGN)
    r = subprocess.run(["sh", "-c", f"trap '' HUP USR1; exec {CRASHBOX} -- {HELPER} info 3</dev/null 7</dev/null"],
                       capture_output=True, cwd=tmp, timeout=30, preexec_fn=ignore_some)
    assert r.returncode == 0, r.stderr
    out = dict(l.split(":", 1) for l in r.stdout.decode().splitlines())
    assert out["SigBlk"].strip() == "0000000000000000"
    assert out["SigIgn"].strip() == "0000000000000000", out
    # 0, 1, the stderr pipe, and what crashbox inherited: none of its own.
    assert out["fds"].split() == ["0", "1", "2", "3", "7"], out["fds"]
    assert out["stderr"].strip().startswith("pipe:")
    assert out["cwd"].strip() == tmp
    assert out["pid"] == out["pgrp"], "the service leads its own process group"


def test_closed_std_fds_become_dev_null_not_crashbox_pipes(tmp):
    # Started with 0 and 1 closed: each becomes /dev/null before crashbox
    # opens anything, so neither its pipes nor the service's stdin land there.
    py = "import os, sys; sys.stderr.write(os.readlink('/proc/self/fd/0') + ' ' + os.readlink('/proc/self/fd/1'))"
    r = subprocess.run(["sh", "-c", f'exec {CRASHBOX} -- python3 -c "{py}" <&- >&-'], capture_output=True, timeout=30)
    assert r.returncode == 0, r
    assert r.stderr.split() == [b"/dev/null", b"/dev/null"], r.stderr


def test_without_the_go_shim_the_child_has_only_0_1_2(tmp):
    # The default: an init hands out no fds (tini and dumb-init give none).
    r = run([HELPER, "info"])
    out = dict(l.split(":", 1) for l in r.stdout.decode().splitlines())
    assert out["fds"].split() == ["0", "1", "2"], out["fds"]
    r = run(["env"])
    assert b"CRASHBOX_" not in r.stdout
    pol = write_policy(tmp, "[capture]\ngo_shim = yes\n")
    r = run(["env"], policy=pol)
    env = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    assert "CRASHBOX_CRASH_FD" in env and "CRASHBOX_CONTROL_FD" in env, r.stdout


def fd_targets(stdout):
    """The service's fds, as `ls -l /proc/self/fd` shows them: {fd: target}."""
    out = {}
    for line in stdout.decode().splitlines():
        if " -> " in line:
            left, target = line.split(" -> ", 1)
            out[int(left.split()[-1])] = target
    return out


def test_inherited_fds_pass_through_and_the_shim_takes_none_of_them(tmp):
    # exec 3</etc/hostname; crashbox -- ls -l /proc/self/fd: the caller's 3.
    script = f"exec 3</etc/hostname 4</etc/passwd 5</dev/null; exec {CRASHBOX} -- ls -l /proc/self/fd"
    r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    fds = fd_targets(r.stdout)
    assert (fds[3], fds[4], fds[5]) == ("/etc/hostname", "/etc/passwd", "/dev/null"), fds
    assert sorted(fds)[:6] == [0, 1, 2, 3, 4, 5] and len(fds) == 7, f"only ls's own dir fd besides: {fds}"
    # With the shim's channel asked for, it lands where nothing inherited is.
    pol = write_policy(tmp, "[capture]\ngo_shim = yes\n")
    script = (f"exec 3</etc/hostname 4</etc/passwd; exec {CRASHBOX} -p {pol} -- "
              f"sh -c 'ls -l /proc/self/fd; env | grep ^CRASHBOX_'")
    r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    fds = fd_targets(r.stdout)
    env = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if l.startswith("CRASHBOX_"))
    crash_fd, control_fd = int(env["CRASHBOX_CRASH_FD"]), int(env["CRASHBOX_CONTROL_FD"])
    assert (fds[3], fds[4]) == ("/etc/hostname", "/etc/passwd"), fds
    assert fds[crash_fd].startswith("pipe:") and fds[control_fd].startswith("socket:"), (env, fds)


def test_no_fd_of_crashbox_reaches_a_restarted_service(tmp):
    # Every feature that opens fds on: bundles, the exit hook, watermarks,
    # metrics, a crash hook; the second run starts after a bundle was written.
    d = os.path.join(tmp, "b")
    marker = os.path.join(tmp, "crashed-once")
    pol = write_policy(tmp, f"[bundle]\ndirectory = {d}\n[restart]\nmode = on-crash\nmin_delay = 0s\n"
                            f"[metrics]\ntextfile = {tmp}/m.prom\n[hooks]\non_crash = true\n")
    script = f"if [ -e {marker} ]; then exec {HELPER} info; fi; touch {marker}; exit 3"
    r = subprocess.run(["sh", "-c", f"exec {CRASHBOX} -p {pol} -- sh -c '{script}' 3</dev/null"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = dict(l.split(":", 1) for l in r.stdout.decode().splitlines())
    assert out["fds"].split() == ["0", "1", "2", "3"], out["fds"]


LISTENER = """
import os, socket
s = socket.socket(fileno=3)
c, _ = s.accept()
c.sendall(("pid=%d LISTEN_PID=%s LISTEN_FDS=%s" % (os.getpid(), os.environ.get("LISTEN_PID"),
                                                    os.environ.get("LISTEN_FDS"))).encode())
c.close()
"""


def test_socket_activation_listener_reaches_the_service(tmp):
    import socket
    for named in ["$$", "1"]:  # LISTEN_PID naming crashbox, and naming someone else
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        fd = srv.fileno()
        script = f"exec 3<&{fd}; LISTEN_FDS=1 LISTEN_PID={named} exec {CRASHBOX} -- python3 -c '{LISTENER}'"
        p = subprocess.Popen(["sh", "-c", script], pass_fds=(fd,), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            c = socket.create_connection(srv.getsockname(), timeout=20)
            c.settimeout(20)
            srv.close()
            got = c.recv(200).decode()
            c.close()
            assert p.wait(timeout=30) == 0, p.stderr.read()
        finally:
            kill_quietly(p)
        f = dict(kv.split("=") for kv in got.split())
        assert f["LISTEN_FDS"] == "1", got
        if named == "$$":
            assert f["LISTEN_PID"] == f["pid"], f"rewritten to the service's pid: {got}"
        else:
            assert f["LISTEN_PID"] == "1", f"someone else's: left alone: {got}"


def test_a_death_by_a_signal_that_only_ends_is_no_crash(tmp):
    d = os.path.join(tmp, "b")
    for sig in ["INT", "TERM", "HUP", "PIPE"]:
        # Sent to the service directly, never through crashbox.
        r = subprocess.run([CRASHBOX, "-d", d, "--", "sh", "-c", f"kill -{sig} $$"],
                           capture_output=True, timeout=30)
        assert r.returncode == 128 + signal.Signals["SIG" + sig], (sig, r.returncode)
        assert not os.path.exists(d) or os.listdir(d) == [], (sig, os.listdir(d), r.stderr)
    pol = write_policy(tmp, "[capture]\ncrash_signals = INT\n")
    r = subprocess.run([CRASHBOX, "-d", d, "-p", pol, "--", "sh", "-c", "kill -INT $$"],
                       capture_output=True, timeout=30)
    assert r.returncode == 130
    bundles = [f for f in os.listdir(d) if f.endswith(".tar.zst")]
    assert len(bundles) == 1 and bundles[0].endswith("-signal.tar.zst"), bundles
    bad = write_policy(tmp, "[capture]\ncrash_signals = INT SEGV\n", "bad.policy")
    r = run(["true"], policy=bad)
    assert r.returncode == 122 and b"'SEGV' is not one of the signals that only end a process" in r.stderr


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    return stat[stat.rfind(")") + 2]


def test_a_sigstop_off_a_terminal_does_not_stop_crashbox(tmp):
    # Someone freezing the service (kill -STOP) resumes it, not crashbox:
    # crashbox must keep running to see it end.
    p = start(["sh", "-c", "echo up; kill -STOP $$; echo resumed"])
    try:
        wait_line(p.stdout, "up")
        child = [pid for pid, _ in children_of(p.pid)][0]
        assert wait_until(lambda: proc_state(child) == "T")
        time.sleep(0.2)
        assert proc_state(p.pid) != "T", "crashbox stopped with a service it holds no terminal for"
        os.kill(child, signal.SIGCONT)
        wait_line(p.stdout, "resumed")
        assert p.wait(timeout=10) == 0
    finally:
        kill_quietly(p)


def test_a_program_reexecuting_itself_with_its_fd_3_keeps_it(tmp):
    pol = write_policy(tmp, "[capture]\ngo_shim = yes\n")
    for how in [[], ["forge"]]:
        r = run([os.path.join(EXAMPLES, "fd-reexec")] + how, policy=pol, timeout=60)
        assert r.returncode == 0, (how, r.stdout, r.stderr)
        out = r.stdout.decode()
        assert "fd3: handed over by the parent\n" in out, (how, out)
        assert "CRASHBOX_CRASH_FD: false" in out and "CRASHBOX_CONTROL_FD: false" in out, (how, out)


def test_environment_rules_apply(tmp):
    pol = write_policy(tmp, "[environment]\nunset = CRASHBOX_* DROP_*\nset = ADDED=yes\n")
    env = dict(os.environ, GOGC="off", GOMEMLIMIT="30GiB", DROP_ME="1", CRASHBOX_X="1")
    r = run(["env"], policy=pol, env=env)
    got = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    assert got["GOGC"] == "off" and got["GOMEMLIMIT"] == "30GiB", "the service's own choice"
    assert "DROP_ME" not in got and "CRASHBOX_X" not in got
    assert got["ADDED"] == "yes"


FORWARDED = [s for s in range(1, 32)
             if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD,
                          signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)]


def test_every_forwarded_signal_arrives_in_order(tmp):
    # SIGTERM/SIGINT start the grace timer: make it long enough not to fire.
    pol = write_policy(tmp, "[signals]\ngrace_period = 1h\n")
    p = start([HELPER, "sigecho", str(len(FORWARDED))], policy=pol)
    try:
        wait_line(p.stdout, "ready")
        for s in FORWARDED:
            os.kill(p.pid, s)  # kill(2): SEGV, ABRT and QUIT included
            wait_line(p.stdout, str(int(s)), timeout=5)
        assert p.wait(timeout=10) == 0
    finally:
        kill_quietly(p)


def test_a_burst_of_signals_loses_none(tmp):
    pol = write_policy(tmp, "[signals]\ngrace_period = 1h\n")
    p = start([HELPER, "sigecho", str(len(FORWARDED))], policy=pol)
    try:
        wait_line(p.stdout, "ready")
        for s in FORWARDED:
            os.kill(p.pid, s)
        out, _ = p.communicate(timeout=10)
        got = [int(l) for l in out.decode().split()]
        assert sorted(got) == sorted(FORWARDED), got
        assert p.returncode == 0
    finally:
        kill_quietly(p)


def test_forward_to_group_reaches_the_whole_group(tmp):
    pol = write_policy(tmp, "[signals]\nforward_to = group\n")
    script = f"{HELPER} sigecho 1 & wait"  # the echo runs as a grandchild
    p = start(["sh", "-c", script], policy=pol)
    try:
        wait_line(p.stdout, "ready")
        os.kill(p.pid, signal.SIGUSR2)
        wait_line(p.stdout, str(int(signal.SIGUSR2)), timeout=5)
        # sh ignores nothing: its default for USR2 is to die; the echo got it too.
        p.wait(timeout=10)
    finally:
        kill_quietly(p)


def test_sigterm_escalates_to_sigkill_after_grace(tmp):
    pol = write_policy(tmp, "[signals]\ngrace_period = 300ms\n")
    p = start([HELPER, "ignoreterm"], policy=pol)
    try:
        wait_line(p.stdout, "ready")
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
        took = time.monotonic() - t0
        assert rc == 128 + signal.SIGKILL, rc
        assert took >= 0.3, took
        assert b"sending SIGKILL" in p.stderr.read()
    finally:
        kill_quietly(p)


def test_orphaned_grandchildren_are_reaped(tmp):
    p = start([HELPER, "orphans", "100", "200"])
    try:
        wait_line(p.stdout, "spawned")
        # The orphans were reparented to crashbox (a subreaper) and die after
        # 200 ms: none may linger as a zombie.
        assert wait_until(lambda: len(children_of(p.pid)) <= 1, timeout=10), children_of(p.pid)
        assert all(not z for _, z in children_of(p.pid))
        assert p.wait(timeout=10) == 0
    finally:
        kill_quietly(p)


def test_descendants_left_behind_are_ended(tmp):
    p = start(["sh", "-c", f"{HELPER} ignoreterm & sleep 1000 & echo started; exit 5"],
              policy=write_policy(tmp, "[signals]\ndescendant_grace = 300ms\n"))
    try:
        wait_line(p.stdout, "started")
        assert p.wait(timeout=15) == 5, "crashbox exits with the main child's status"
        assert children_of(p.pid) == []
    finally:
        kill_quietly(p)


def test_sigkilled_crashbox_takes_its_service_along(tmp):
    p = start([HELPER, "ignoreterm"])
    try:
        wait_line(p.stdout, "ready")
        kids = [pid for pid, _ in children_of(p.pid)]
        assert len(kids) == 1
        p.kill()
        p.wait(timeout=10)
        assert wait_until(lambda: not alive(kids[0]), timeout=10), "service orphaned"
    finally:
        kill_quietly(p)


def test_as_pid1_in_a_pid_namespace_reaps_everything(tmp):
    need_root("a new pid namespace")
    if subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True).returncode:
        raise Skip("unshare --pid is not permitted here")
    script = f"{HELPER} orphans 50 100 && ps -eo stat= | grep -c Z; exit 9"
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", CRASHBOX, "--", "sh", "-c", script],
                       capture_output=True, timeout=60)
    assert r.returncode == 9, r
    assert r.stdout.decode().split()[-1] == "0", f"zombies left: {r.stdout!r}"
