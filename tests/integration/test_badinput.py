"""Bad input gets a clear error and loses nothing."""
import hashlib
import json
import os
import subprocess
import time

from bundles import list_bundles, manifest, member
from lib import CRASHBOX, HELPER, Skip, need_root, write_policy


def check(path):
    return subprocess.run([CRASHBOX, "check", path], capture_output=True, timeout=30)


def test_malformed_policies_are_rejected_with_locations(tmp):
    cases = {
        "huge.policy": b"# filler\n" * 300000,  # 2.7 MB
        "binary.policy": bytes(range(256)) * 64,
        "nested.policy": b"[" * 5000 + b"signals" + b"]" * 5000 + b"\n",
        "longline.policy": b"[signals]\ngrace_period = " + b"9" * 100000 + b"s\n",
        "unterminated.policy": b"[signals\n",
        "empty-key.policy": b"[signals]\n= 5s\n",
    }
    for name, data in cases.items():
        p = os.path.join(tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        r = check(p)
        assert r.returncode == 122, (name, r.returncode)
        err = r.stderr.decode(errors="replace")
        assert err.startswith(p + ":"), (name, err[:200])
        assert "Segmentation" not in err
        r = subprocess.run([CRASHBOX, "-p", p, "--", "sh", "-c", "echo started"], capture_output=True, timeout=30)
        assert r.returncode == 122 and r.stdout == b"", "a bad policy starts nothing"
    assert "too large" in check(os.path.join(tmp, "huge.policy")).stderr.decode()
    assert ":1: binary data (NUL byte)" in check(os.path.join(tmp, "binary.policy")).stderr.decode()


def test_policy_that_is_a_fifo_or_a_directory(tmp):
    fifo = os.path.join(tmp, "fifo.policy")
    os.mkfifo(fifo)
    t0 = time.monotonic()
    r = check(fifo)
    assert r.returncode == 122 and b"not a regular file" in r.stderr
    assert time.monotonic() - t0 < 10, "a FIFO must not block"
    r = check(tmp)
    assert r.returncode == 122


def test_binary_stderr_is_relayed_exactly_and_escaped_in_json(tmp):
    d = os.path.join(tmp, "b")
    junk = os.path.join(tmp, "junk.bin")
    data = b"start\n" + bytes(range(256)) * 4 + b"\x00\x00 nul \xff\xfe bad utf8 \xc3\x28 \xed\xa0\x80\nlast: \xff\x00end"
    with open(junk, "wb") as f:
        f.write(data)
    r = subprocess.run([CRASHBOX, "-d", d, "--", "sh", "-c", f"cat {junk} >&2; exit 1"],
                       capture_output=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr.startswith(data), "relayed byte for byte"
    b = os.path.join(d, list_bundles(d)[0])
    m = json.loads(member(b, "manifest.json"))  # valid JSON whatever the bytes
    assert m["crash"]["kind"] == "exit"
    msg = m["crash"]["message"]
    assert msg.startswith("exit status 1: last: ") and msg.endswith("end"), msg
    assert msg.count("\ufffd") == 2, "the invalid byte and the NUL"
    assert member(b, "stderr.log") == data
    # The relayed bytes end without a newline: crashbox's own line starts on a new one.
    summary = [l for l in r.stderr[len(data):].split(b"\n") if l.startswith(b'{"crashbox":')][0]
    json.loads(summary)


def test_a_100mb_line_without_newline(tmp):
    d = os.path.join(tmp, "b")
    big = os.path.join(tmp, "line.bin")
    with open(big, "wb") as f:
        block = b"x" * (1 << 20)
        for _ in range(100):
            f.write(block)
        f.write(b"TAIL-WITHOUT-NEWLINE")
    want = hashlib.sha256(open(big, "rb").read()).hexdigest()
    p = subprocess.Popen([CRASHBOX, "-d", d, "--", HELPER, "spew", big, "kill"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    out = p.stderr.read()
    assert p.wait(timeout=120) == 137
    size = os.path.getsize(big)
    assert hashlib.sha256(out[:size]).hexdigest() == want
    m = manifest(os.path.join(d, list_bundles(d)[0]))
    assert m["crash"]["kind"] == "signal"
    tail = member(os.path.join(d, list_bundles(d)[0]), "stderr.log")
    assert len(tail) == 8 << 20 and tail.endswith(b"TAIL-WITHOUT-NEWLINE")


def test_report_truncated_mid_frame(tmp):
    d = os.path.join(tmp, "b")
    r = subprocess.run([CRASHBOX, "-d", d, "--", "sh", "-c",
                        "printf 'panic: boom\\n\\ngoroutine 1 [running]:\\nmain.work(0xc0' >&2; exit 2"],
                       capture_output=True, timeout=30)
    assert r.returncode == 2
    c = manifest(os.path.join(d, list_bundles(d)[0]))["crash"]
    assert c["kind"] == "go-panic" and c["message"] == "boom"
    assert c["frames"][0]["function"] == "main.work" and c["frames"][0]["file"] is None


def test_fork_bomb_within_the_pid_limit(tmp):
    need_root("running the bomb as an unprivileged user with RLIMIT_NPROC")
    if subprocess.run(["pgrep", "-u", "nobody"], capture_output=True).returncode == 0:
        raise Skip("processes of user nobody already run here; the count would be ambiguous")
    pol = write_policy(tmp, "[sandbox]\nuser = nobody\nrlimit_nproc = 150\n[signals]\ndescendant_grace = 500ms\n")
    t0 = time.monotonic()
    r = subprocess.run([CRASHBOX, "-p", pol, "--", "sh", "-c",
                        # The outer shell forks its sleep before the bomb fills the limit.
                        "sleep 2 & s=$!; b() { b & b & sleep 100; }; b 2>/dev/null & wait $s; exit 3"],
                       capture_output=True, timeout=120)
    assert r.returncode == 3, "crashbox outlives the bomb and reports the service's status"
    assert time.monotonic() - t0 < 60
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-u", "nobody"], capture_output=True).stdout.split()
    assert left == [], f"{len(left)} processes of the bomb left"
