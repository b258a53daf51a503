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
