"""crashbox gives back start-up's pages once the service has settled
(supervisor/crash/memrelease.h): what it does after that (relaying stderr,
forwarding signals, the exit hook's snapshot, the bundle) runs on code
faulted back in from the page cache, on both builds."""
import os
import signal
import subprocess
import time

from bundles import manifest, member, only_bundle
from lib import CRASHBOX, EXAMPLES, Skip, kill_quietly

STATIC = os.path.abspath(os.environ.get("STATIC_CRASHBOX", "build/static/crashbox"))


def builds():
    if not os.access(STATIC, os.X_OK):
        raise Skip("no static build (make static)")
    return [("dynamic", CRASHBOX), ("static", STATIC)]


def test_a_crash_after_the_release_is_captured_whole(tmp):
    for name, binary in builds():
        d = os.path.join(tmp, name)
        os.makedirs(d)
        svc = ["sh", "-c", f"sleep 0.5; exec {os.path.join(EXAMPLES, 'nil-deref')}"]
        r = subprocess.run([binary, "-v", "-d", d, "--"] + svc, capture_output=True, timeout=60)
        err = r.stderr.decode(errors="replace")
        gave, served = err.find("giving back start-up's pages"), err.find("orders: serving")
        assert 0 <= gave < served, (name, err[-3000:])
        assert r.returncode == 2, (name, r.returncode, err[-2000:])
        path = only_bundle(d)
        man = manifest(path)
        assert man["crash"]["kind"] == "go-panic", (name, man["crash"])
        assert man["crash"]["culprit"]["function"] == "main.handle", (name, man["crash"])
        assert man["snapshot"]["taken"] == "exit-hook", (name, man["snapshot"])
        assert b"orders: serving" in member(path, "stderr.log"), name


def test_signals_after_the_release_reach_the_service(tmp):
    for name, binary in builds():
        p = subprocess.Popen([binary, "-v", "--", os.path.join(EXAMPLES, "sleeper")], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            assert p.stdout.readline() == b"ready\n", name
            deadline = time.monotonic() + 20
            seen = b""
            while b"giving back start-up's pages" not in seen and time.monotonic() < deadline:
                line = p.stderr.readline()
                if not line:
                    break
                seen += line
            assert b"giving back start-up's pages" in seen, (name, seen[-2000:])
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=20) == 128 + signal.SIGTERM, name
        finally:
            kill_quietly(p)
