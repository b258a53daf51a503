"""Job control under a pseudo-terminal: the service gets the foreground,
Ctrl-C reaches it, Ctrl-Z stops the job and SIGCONT resumes it."""
import os
import pty
import select
import signal
import time

from lib import CRASHBOX, HELPER


def spawn_on_pty(args):
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(CRASHBOX, [CRASHBOX, "--"] + args)
        finally:
            os._exit(99)
    return pid, fd


def read_until(fd, want, timeout=10):
    buf = b""
    deadline = time.monotonic() + timeout
    while want not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"never saw {want!r} in {buf[-500:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    if want not in buf:
        raise AssertionError(f"never saw {want!r} in {buf[-500:]!r}")
    return buf


def wait_status(pid, flags=0, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got, st = os.waitpid(pid, flags | os.WNOHANG)
        if got:
            return st
        time.sleep(0.01)
    raise AssertionError("timed out waiting for crashbox")


def test_service_gets_the_terminal_foreground(tmp):
    pid, fd = spawn_on_pty([HELPER, "info"])
    try:
        out = read_until(fd, b"cwd:").decode()
        fields = dict(l.split(":", 1) for l in out.replace("\r", "").splitlines() if ":" in l)
        assert fields["foreground"].strip() == fields["pgrp"].strip(), out
        assert os.waitstatus_to_exitcode(wait_status(pid)) == 0
    finally:
        os.close(fd)


def test_ctrl_c_reaches_the_service(tmp):
    pid, fd = spawn_on_pty([HELPER, "ticker"])
    try:
        read_until(fd, b"tick 2")
        os.write(fd, b"\x03")
        st = wait_status(pid)
        assert os.waitstatus_to_exitcode(st) == 128 + signal.SIGINT
    finally:
        os.close(fd)


def test_ctrl_z_stops_the_job_and_sigcont_resumes_it(tmp):
    pid, fd = spawn_on_pty([HELPER, "ticker"])
    try:
        read_until(fd, b"tick 2")
        os.write(fd, b"\x1a")
        st = wait_status(pid, os.WUNTRACED)
        assert os.WIFSTOPPED(st), "crashbox stops with its service, for the shell's sake"
        # Drain what was printed before the stop, then check the silence.
        time.sleep(0.2)
        while select.select([fd], [], [], 0)[0]:
            os.read(fd, 4096)
        time.sleep(0.3)
        assert not select.select([fd], [], [], 0)[0], "the service kept running while stopped"
        os.kill(pid, signal.SIGCONT)
        read_until(fd, b"tick")
        os.write(fd, b"\x03")
        st = wait_status(pid)
        assert os.waitstatus_to_exitcode(st) == 128 + signal.SIGINT
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(fd)


def spawn_on_pty_with(argv, env=None):
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(argv[0], argv, env if env is not None else os.environ)
        finally:
            os._exit(99)
    return pid, fd


class Term:
    """A pty master read as a stream: expect() consumes up to what it waits for."""

    def __init__(self, fd):
        self.fd, self.buf = fd, b""

    def expect(self, want, timeout=10):
        deadline = time.monotonic() + timeout
        while want not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise AssertionError(f"never saw {want!r} in {self.buf[-500:]!r}")
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"end of terminal output before {want!r} in {self.buf[-500:]!r}")
            self.buf += chunk
        at = self.buf.index(want) + len(want)
        seen, self.buf = self.buf[:at], self.buf[at:]
        return seen

    def send(self, data):
        os.write(self.fd, data)


def shell_env():
    return dict(os.environ, PS1="PROMPT> ", TERM="dumb", HOME="/nonexistent")


def end(pid, fd):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    os.close(fd)


def test_an_interactive_shell_gets_its_prompt_and_job_control(tmp):
    # `crashbox -- bash` on a terminal (docker run -it IMAGE bash): bash is
    # interactive only when its fds 0 and 2 are the terminal, as -i would
    # force; -m wants the terminal's process group from fd 2.
    pid, fd = spawn_on_pty_with([CRASHBOX, "--", "/bin/bash", "--norc", "--noprofile"], shell_env())
    t = Term(fd)
    try:
        t.expect(b"PROMPT> ")
        t.send(b"exit 3\n")
        assert os.waitstatus_to_exitcode(wait_status(pid)) == 3
    finally:
        end(pid, fd)
    pid, fd = spawn_on_pty_with([CRASHBOX, "--", "/bin/bash", "--norc", "--noprofile", "-m"], shell_env())
    t = Term(fd)
    try:
        out = t.expect(b"PROMPT> ")
        assert b"cannot set terminal process group" not in out, out
        assert b"no job control" not in out, out
        t.send(b"echo $((6 * 7))\n")
        t.expect(b"42")
        t.expect(b"PROMPT> ")
        # Job control: Ctrl-Z stops the foreground job, the prompt returns.
        t.send(b"sleep 30\n")
        t.expect(b"sleep 30")
        time.sleep(0.3)
        t.send(b"\x1a")
        t.expect(b"Stopped")
        t.expect(b"PROMPT> ")
        t.send(b"jobs\n")
        t.expect(b"Stopped")
        t.expect(b"PROMPT> ")
        t.send(b"kill -9 %1; sleep 0.5\n")
        t.expect(b"Killed")
        t.expect(b"PROMPT> ")
        t.send(b"exit 7\n")
        assert os.waitstatus_to_exitcode(wait_status(pid)) == 7
    finally:
        end(pid, fd)


def test_a_crash_in_a_terminal_session_says_stderr_was_not_captured(tmp):
    from bundles import list_bundles, manifest
    d = os.path.join(tmp, "b")
    pid, fd = spawn_on_pty_with([CRASHBOX, "-d", d, "--", "sh", "-c", "echo boom >&2; kill -SEGV $$"])
    try:
        read_until(fd, b"boom")
        assert os.waitstatus_to_exitcode(wait_status(pid)) == 128 + signal.SIGSEGV
    finally:
        end(pid, fd)
    man = manifest(os.path.join(d, list_bundles(d)[0]))
    missing = {m["item"]: m["reason"] for m in man["snapshot"]["missing"]}
    assert "stderr not captured: a terminal" in missing["stderr.log"], missing


def test_ctrl_c_on_a_terminal_writes_no_bundle(tmp):
    d = os.path.join(tmp, "b")
    pid, fd = spawn_on_pty_with([CRASHBOX, "-d", d, "--", HELPER, "ticker"])
    try:
        read_until(fd, b"tick 2")
        os.write(fd, b"\x03")
        assert os.waitstatus_to_exitcode(wait_status(pid)) == 128 + signal.SIGINT
    finally:
        end(pid, fd)
    assert not os.path.exists(d) or [f for f in os.listdir(d) if f.endswith(".tar.zst")] == []


def test_a_program_that_stops_itself_gives_the_shell_its_prompt_back(tmp):
    # nano and mutt stop themselves with SIGSTOP on Ctrl-Z: crashbox stops
    # with them, the shell gets its prompt, fg resumes both.
    pid, fd = spawn_on_pty_with(["/bin/bash", "--norc", "--noprofile", "-i", "-m"], shell_env())
    t = Term(fd)
    try:
        t.expect(b"PROMPT> ")
        t.send(f"{CRASHBOX} -- sh -c 'echo be''fore; kill -STOP $$; echo after-$((1+1))'\n".encode())
        t.expect(b"before")
        t.expect(b"Stopped")
        t.expect(b"PROMPT> ")
        t.send(b"fg; echo status=$?\n")
        t.expect(b"after-2")
        t.expect(b"status=0")
        t.expect(b"PROMPT> ")
        t.send(b"exit 0\n")
        assert os.waitstatus_to_exitcode(wait_status(pid)) == 0
    finally:
        end(pid, fd)
