"""The stderr relay: byte for byte, whatever the output is and however the
service dies; the tail kept for crash capture is tested in the unit tests."""
import hashlib
import os
import subprocess
import time

from lib import CRASHBOX, HELPER, children_of, kill_quietly, run, start, wait_line, write_policy

SIZE = 200 * 1024 * 1024


def random_file(tmp, size=SIZE):
    path = os.path.join(tmp, "random.bin")
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 22)
            f.write(os.urandom(n))
            left -= n
    return path


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def hash_through_pipe(cmd, expect=SIZE):
    """Runs cmd with stderr on a pipe; hashes the first `expect` bytes as they
    stream and returns what came after them (crashbox's own lines)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    h = hashlib.sha256()
    n = 0
    rest = b""
    for block in iter(lambda: p.stderr.read(1 << 20), b""):
        take = block[:max(0, expect - n)]
        h.update(take)
        rest += block[len(take):]
        n += len(take)
    return p.wait(timeout=120), h.hexdigest(), n, rest


def only_crashbox_lines(rest):
    # After output without a final newline, crashbox starts its own line.
    if rest.startswith(b"\n"):
        rest = rest[1:]
    for line in rest.decode(errors="replace").splitlines():
        assert line.startswith("crashbox: ") or line.startswith('{"crashbox":'), line


def test_200mb_byte_exact_through_a_pipe(tmp):
    src = random_file(tmp)
    rc, digest, n, rest = hash_through_pipe([CRASHBOX, "--", HELPER, "spew", src])
    assert rc == 0
    assert n == SIZE and rest == b""
    assert digest == sha256_file(src)


def test_200mb_byte_exact_into_a_file(tmp):
    src = random_file(tmp)
    out = os.path.join(tmp, "out.bin")
    with open(out, "wb") as f:
        rc = subprocess.run([CRASHBOX, "--", HELPER, "spew", src], stderr=f, timeout=120).returncode
    assert rc == 0
    assert os.path.getsize(out) == SIZE
    assert sha256_file(out) == sha256_file(src)


def test_100mb_then_sigkill_loses_nothing(tmp):
    src = random_file(tmp, 100 * 1024 * 1024)
    want = sha256_file(src)
    size = 100 * 1024 * 1024
    rc, digest, n, rest = hash_through_pipe([CRASHBOX, "--", HELPER, "spew", src, "kill"], size)
    assert rc == 128 + 9
    assert (n, digest) == (size, want)
    only_crashbox_lines(rest)  # the crash summary comes after every relayed byte
    out = os.path.join(tmp, "out.bin")
    with open(out, "wb") as f:
        rc = subprocess.run([CRASHBOX, "--", HELPER, "spew", src, "kill"], stderr=f, timeout=120).returncode
    assert rc == 137
    with open(out, "rb") as f:
        data = f.read()
    assert hashlib.sha256(data[:size]).hexdigest() == want
    only_crashbox_lines(data[size:])


def test_stdout_is_inherited_not_copied(tmp):
    r = subprocess.run([CRASHBOX, "--", HELPER, "info"], capture_output=True)
    out = os.path.join(tmp, "o")
    with open(out, "w") as f:
        subprocess.run([CRASHBOX, "--", "sh", "-c", "readlink /proc/self/fd/1"], stdout=f)
    with open(out) as f:
        assert f.read().strip() == out, "the service writes to crashbox's own stdout"
    assert r.returncode == 0


def test_grandchild_holding_stderr_is_drained_until_it_closes(tmp):
    # The child exits at once; a grandchild keeps writing to the inherited
    # stderr for a while, then closes it. Everything it wrote arrives.
    pol = write_policy(tmp, "[signals]\ndescendant_grace = 5s\n[stderr]\ndrain_timeout = 5s\n")
    armed = os.path.join(tmp, "armed")
    script = (f"(trap '' TERM; touch {armed}; for i in 1 2 3 4 5; do echo late-$i >&2; sleep 0.1; done) & "
              f"while [ ! -e {armed} ]; do sleep 0.01; done; echo first >&2; exit 0")
    r = run(["sh", "-c", script], policy=pol, timeout=30)
    assert r.returncode == 0
    lines = [l for l in r.stderr.decode().splitlines() if not l.startswith("crashbox:")]
    assert sorted(lines) == ["first"] + [f"late-{i}" for i in range(1, 6)], r.stderr


def test_stderr_held_outside_crashbox_tree_stops_after_drain_timeout(tmp):
    # This test process opens the service's stderr pipe for writing and
    # holds it: a writer crashbox cannot end. It must give up relaying
    # after drain_timeout and exit with the service's status.
    pol = write_policy(tmp, "[stderr]\ndrain_timeout = 300ms\n")
    p = start(["sh", "-c", "echo ready; read x; echo bye >&2; exit 4"], policy=pol,
              stdin=subprocess.PIPE)
    try:
        wait_line(p.stdout, "ready")
        child = [pid for pid, _ in children_of(p.pid)][0]
        held = os.open(f"/proc/{child}/fd/2", os.O_WRONLY)
        p.stdin.write(b"go\n")
        p.stdin.close()
        rc = p.wait(timeout=30)
        err = p.stderr.read()
        os.close(held)
        assert rc == 4
        assert b"bye\n" in err
        assert b"stopped relaying" in err
    finally:
        kill_quietly(p)


def test_closed_crashbox_stderr_does_not_hurt_the_service(tmp):
    r = subprocess.run(["sh", "-c", f"exec 2>&-; {CRASHBOX} -- sh -c 'echo x >&2; echo done; exit 6'"],
                       capture_output=True, timeout=30)
    assert r.returncode == 6
    assert r.stdout == b"done\n"


def test_a_reader_that_goes_away_reaches_the_service(tmp):
    # crashbox -- sh -c 'while :; do echo x >&2; ...; done' 2>&1 | head -2
    # ends at once with 141, as it would without crashbox (and under tini).
    d = os.path.join(tmp, "b")
    p = subprocess.Popen([CRASHBOX, "-d", d, "--", "sh", "-c", "while :; do echo x >&2; sleep 0.01; done"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert p.stderr.readline() == b"x\n" and p.stderr.readline() == b"x\n"
        p.stderr.close()
        assert p.wait(timeout=10) == 128 + 13, "SIGPIPE reached the service"
    finally:
        kill_quietly(p)
    assert not os.path.exists(d) or [f for f in os.listdir(d) if f.endswith(".tar.zst")] == [], \
        "a closed pipe is a stop, not a crash"
    # And through a real pipeline, with head(1).
    r = subprocess.run(["bash", "-c", f"{CRASHBOX} -- sh -c 'while :; do echo x >&2; sleep 0.01; done' 2>&1 "
                        "| head -2; echo ${PIPESTATUS[0]}"], capture_output=True, timeout=30)
    assert r.stdout == b"x\nx\n141\n", r


def test_broken_stderr_pipe_keeps_the_service_running(tmp):
    # Whoever reads crashbox's stderr goes away: with reader_gone = keep the
    # service must keep running and exit normally.
    pol = write_policy(tmp, "[stderr]\nreader_gone = keep\n")
    rd, wr = os.pipe()
    p = subprocess.Popen([CRASHBOX, "-p", pol, "--", "sh", "-c",
                          "for i in $(seq 2000); do echo line-$i >&2; done; echo survived"],
                         stdout=subprocess.PIPE, stderr=wr)
    os.close(wr)
    os.close(rd)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 0
    assert out == b"survived\n"
    # The endless writer too: it runs on until asked to stop.
    p = subprocess.Popen([CRASHBOX, "-p", pol, "--", "sh", "-c", "while :; do echo x >&2; sleep 0.01; done"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        p.stderr.readline()
        p.stderr.close()
        time.sleep(0.5)
        assert p.poll() is None, "reader_gone = keep: the service outlives its log reader"
        p.terminate()
        assert p.wait(timeout=20) == 128 + 15
    finally:
        kill_quietly(p)


def test_line_by_line_output_does_not_fill_a_slow_readers_pipe(tmp):
    # A pipe has 16 (or 256) slots; relaying each small write as its own
    # slot (as tee(2) does) would fill it after as many lines, and a reader
    # that reads only at the end (a slow log collector) would hold crashbox
    # forever in its own summary line. Small writes are merged, as a plain
    # pipe merges them.
    p = subprocess.Popen([CRASHBOX, "--", "sh", "-c",
                          "for i in $(seq 600); do echo line $i >&2; sleep 0.001; done; exit 3"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        rc = p.wait(timeout=60)
    finally:
        kill_quietly(p)
    assert rc == 3
    lines = p.stderr.read().decode().splitlines()
    assert lines[:600] == [f"line {i}" for i in range(1, 601)]


def test_the_relay_thread_starts_at_the_first_bytes(tmp):
    # A service that writes nothing to stderr costs no relay thread; its
    # first bytes start it, and arrive.
    p = subprocess.Popen([CRASHBOX, "--", "sh", "-c", "sleep 1; echo late words >&2; sleep 1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        silent = len(os.listdir(f"/proc/{p.pid}/task"))
        assert p.stderr.readline() == b"late words\n"
        assert len(os.listdir(f"/proc/{p.pid}/task")) == silent + 1
        assert p.wait(timeout=20) == 0
    finally:
        kill_quietly(p)


def test_a_silent_services_leftover_writer_is_relayed_while_it_lingers(tmp):
    # The service writes nothing and exits; a process it left writes more
    # than a pipe holds once it has gone. The relay must run while crashbox
    # waits for that process, or it blocks on a full pipe and is ended.
    src = random_file(tmp, 8 << 20)
    pol = write_policy(tmp, "[signals]\ndescendant_grace = 10s\n[stderr]\ndrain_timeout = 10s\n")
    script = f"(while kill -0 $$ 2>/dev/null; do sleep 0.01; done; exec {HELPER} spew {src}) & exit 0"
    rc, digest, n, rest = hash_through_pipe([CRASHBOX, "-p", pol, "--", "sh", "-c", script], expect=8 << 20)
    assert rc == 0
    assert n == 8 << 20, n
    assert digest == sha256_file(src)
    only_crashbox_lines(rest)
