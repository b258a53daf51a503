"""Shared helpers for crashbox's integration tests: real processes only."""
import os
import shutil
import signal
import subprocess
import time

CRASHBOX = os.path.abspath(os.environ.get("CRASHBOX", "build/crashbox"))
HELPERS = os.path.abspath(os.environ.get("HELPERS", "build/helpers"))
EXAMPLES = os.path.abspath(os.environ.get("EXAMPLES", "build/examples"))
HELPER = os.path.join(HELPERS, "cbhelper")


class Skip(Exception):
    """Raised by a test that cannot run on this machine; the reason is printed."""


def need_root(what):
    if os.geteuid() != 0:
        raise Skip(f"{what} needs root")


def run(args, policy=None, env=None, timeout=60, **kw):
    """Runs crashbox with args (the part after --) and waits for it."""
    cmd = [CRASHBOX]
    if policy:
        cmd += ["-p", policy]
    cmd += ["--"] + list(args)
    return subprocess.run(cmd, capture_output=True, env=env, timeout=timeout, **kw)


def start(args, policy=None, env=None, **kw):
    cmd = [CRASHBOX]
    if policy:
        cmd += ["-p", policy]
    cmd += ["--"] + list(args)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(cmd, env=env, **kw)


def write_policy(tmp, text, name="t.policy"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_line(stream, want, timeout=10):
    """Reads lines from a pipe until one equals want (stripped)."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        line = line.decode(errors="replace").strip()
        lines.append(line)
        if line == want:
            return lines
    raise AssertionError(f"never saw {want!r}; got {lines!r}")


def children_of(pid):
    """Pids whose parent is pid, and whether each is a zombie."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        if int(rest[1]) == pid:
            out.append((int(d), rest[0] == "Z"))
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def wait_until(cond, timeout=10, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def kill_quietly(p):
    try:
        p.kill()
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=10)
    except Exception:
        pass


def sanitizer_build():
    """True for a crashbox built with ASan/UBSan (make asan)."""
    return b"sanitizers" in subprocess.run([CRASHBOX, "--version"], capture_output=True).stdout


def need_strace():
    """Skips unless crashbox can run under strace (fault injection, delays)."""
    if sanitizer_build():
        raise Skip("LeakSanitizer cannot run under strace's ptrace")
    if not shutil.which("strace"):
        raise Skip("strace is not installed (.ci/install-deps installs it)")
    if subprocess.run(["strace", "-qq", "-o", "/dev/null", "true"], capture_output=True).returncode:
        raise Skip("ptrace is not permitted here")
