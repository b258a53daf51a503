"""A private Docker engine for the container tier: one dockerd started for
the whole tier (vfs storage, no iptables, no bridge, every root under a short
temporary directory), its images built FROM scratch (no registry is reachable),
and stopped with its directories removed when the run ends, pass or fail.

Where no engine can start (not root, no binary, it exits), ENGINE.need()
raises lib.Skip with the reason, so every container test says SKIP."""
import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time

from lib import Skip

# Debian's client matches Debian's dockerd; another docker on PATH may not.
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
DOCKERD = os.environ.get("DOCKERD", "/usr/sbin/dockerd")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STATIC_CRASHBOX = os.path.abspath(os.environ.get("STATIC_CRASHBOX", os.path.join(REPO, "build/static/crashbox")))
STATIC_EXAMPLES = os.path.abspath(os.environ.get("STATIC_EXAMPLES", os.path.join(REPO, "build/examples-static")))
STATIC_HELPER = os.path.join(os.path.abspath(os.environ.get("HELPERS", os.path.join(REPO, "build/helpers"))),
                             "cbhelper-static")
START_TIMEOUT = 60


class Engine:
    def __init__(self):
        self.dir = None
        self.proc = None
        self.sock = None
        self.failed = None  # why no engine: set once, every test skips with it
        self.images = {}

    def need(self):
        """The running engine, started on first use, or Skip."""
        if self.failed:
            raise Skip(self.failed)
        if not self.proc:
            try:
                self._start()
            except Skip as e:
                self.failed = str(e)
                self.stop()
                raise
        return self

    def _start(self):
        if os.geteuid() != 0:
            raise Skip("dockerd needs root")
        for b in (DOCKERD, DOCKER):
            if not os.access(b, os.X_OK):
                raise Skip(f"{b} is not installed (.ci/install-deps installs docker.io)")
        # A unix socket path holds at most 107 bytes: keep the directory short.
        self.dir = tempfile.mkdtemp(prefix="cbd-", dir="/tmp")
        self.sock = os.path.join(self.dir, "sock")
        self.log = open(os.path.join(self.dir, "dockerd.log"), "wb")
        atexit.register(self.stop)
        self.proc = subprocess.Popen(
            [DOCKERD, "--storage-driver=vfs", "--iptables=false", "--ip-masq=false", "--bridge=none",
             "--data-root", os.path.join(self.dir, "data"), "--exec-root", os.path.join(self.dir, "exec"),
             "--pidfile", os.path.join(self.dir, "pid"), "-H", f"unix://{self.sock}"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Skip(f"dockerd exited with status {self.proc.returncode}: {self._log_tail()}")
            r = subprocess.run([DOCKER, "-H", f"unix://{self.sock}", "info"], capture_output=True, timeout=30)
            if r.returncode == 0:
                return
            time.sleep(0.2)
        raise Skip(f"dockerd did not answer within {START_TIMEOUT}s: {self._log_tail()}")

    def _log_tail(self):
        try:
            with open(os.path.join(self.dir, "dockerd.log"), "rb") as f:
                return f.read()[-600:].decode(errors="replace").strip()
        except OSError:
            return "(no log)"

    def stop(self):
        """SIGTERM, a wait, then SIGKILL; its directories are removed."""
        p, self.proc = self.proc, None
        if p and p.poll() is None:
            if self.sock:  # containers left by a failed test go first
                ids = subprocess.run([DOCKER, "-H", f"unix://{self.sock}", "ps", "-aq"],
                                     capture_output=True, timeout=30).stdout.split()
                if ids:
                    subprocess.run([DOCKER, "-H", f"unix://{self.sock}", "rm", "-f"] + [i.decode() for i in ids],
                                   capture_output=True, timeout=120)
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
        if self.dir:
            # Its containerd and shims live in its session: none may outlive it.
            if p:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for sub in ("exec", "data"):
                # vfs leaves mounts under its roots only if something crashed.
                subprocess.run(["sh", "-c", f"grep -o ' {self.dir}/{sub}[^ ]*' /proc/self/mounts | sort -r | "
                                "xargs -r -n1 umount -l"], capture_output=True)
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def docker(self, *args, timeout=120, check=False, **kw):
        r = subprocess.run([DOCKER, "-H", f"unix://{self.sock}"] + [str(a) for a in args],
                           capture_output=True, timeout=timeout, **kw)
        if check and r.returncode:
            raise AssertionError(f"docker {' '.join(map(str, args))}: {r.returncode}: {r.stderr.decode()[-1500:]}")
        return r

    def popen(self, *args, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen([DOCKER, "-H", f"unix://{self.sock}"] + [str(a) for a in args], **kw)

    def build(self, tag, context, dockerfile=None):
        """docker build, once per tag for the whole tier."""
        if tag in self.images:
            return tag
        args = ["build", "-q", "-t", tag]
        if dockerfile:
            args += ["-f", dockerfile]
        # The classic builder: BuildKit may want to reach a registry for its frontend.
        r = subprocess.run([DOCKER, "-H", f"unix://{self.sock}"] + args + [context], capture_output=True,
                           timeout=600, env=dict(os.environ, DOCKER_BUILDKIT="0"))
        if r.returncode:
            raise AssertionError(f"docker build {tag}: {r.stderr.decode()[-2000:]}")
        self.images[tag] = r.stdout.decode().strip()
        return tag


ENGINE = Engine()
