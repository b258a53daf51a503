"""Shipping bundles to S3-compatible object storage: a real S3 protocol
server (s3rver, on Node.js) on loopback, a small proxy in front of it that
checks every request's SigV4 signature the way AWS does and injects faults,
and rclone as an independent client that checks what arrived."""
import contextlib
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

from lib import CRASHBOX, EXAMPLES, Skip

SHIP = os.path.join(os.path.dirname(CRASHBOX), "crashbox-ship")
S3RVER = os.environ.get("S3RVER", "/opt/crashbox-test/s3rver/node_modules/.bin/s3rver")
AK, SK = "S3RVER", "S3RVER"  # s3rver's built-in account
BUCKET = "fleet-bundles"
SEGV = ["sh", "-c", "kill -SEGV $$"]  # a service that dies of a signal


def need_tools():
    for what, path in (("crashbox-ship", SHIP), ("s3rver (.ci/install-deps)", S3RVER)):
        if not os.access(path, os.X_OK):
            raise Skip(f"{what} not found at {path}")
    if not shutil.which("rclone"):
        raise Skip("rclone not installed (.ci/install-deps)")
    if not shutil.which("node"):
        raise Skip("node not installed (.ci/install-deps)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


class S3rver:
    """s3rver on 127.0.0.1 with its data in a temporary directory."""

    def __init__(self, tmp, port=None):
        self.port = port or free_port()
        self.data = os.path.join(tmp, "s3rver-data")
        os.makedirs(self.data, exist_ok=True)
        self.proc = None

    @staticmethod
    def _nofile():
        # s3rver opens every object's metadata at once to list a bucket
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    @staticmethod
    def env():
        # s3rver's continuation tokens are DES-encrypted, a cipher Node's
        # OpenSSL 3 serves only from its legacy provider: without it every
        # listing past one page (1,000 keys) answers 500.
        return dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")

    def start(self):
        self.log = open(os.path.join(os.path.dirname(self.data), "s3rver.log"), "ab")
        self.proc = subprocess.Popen(
            [S3RVER, "-d", self.data, "-a", "127.0.0.1", "-p", str(self.port), "--silent",
             "--service-endpoint", "localhost", "--configure-bucket", BUCKET],
            stdout=subprocess.DEVNULL, stderr=self.log, preexec_fn=self._nofile, env=self.env())
        wait_port(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.proc:
            self.log.close()


# ---- SigV4 as AWS checks it: the canonical request rebuilt from what arrived.

def _enc(s):
    return urllib.parse.quote(s, safe="-_.~")


def sigv4_check(method, raw_path, headers, secret):
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no SigV4 Authorization header"
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    ak, date, region, service, term = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    for must in ("host", "x-amz-date", "x-amz-content-sha256"):
        if must not in signed:
            return f"{must} is not signed"
    path, _, query = raw_path.partition("?")
    uri = urllib.parse.quote(urllib.parse.unquote(path), safe="/-_.~")
    if uri != path:
        return f"path not URI-encoded as S3 wants: {path}"
    pairs = []
    for item in query.split("&") if query else []:
        k, _, v = item.partition("=")
        pairs.append((_enc(urllib.parse.unquote(k)), _enc(urllib.parse.unquote(v))))
    cq = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    ch = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    creq = "\n".join([method, uri, cq, ch, ";".join(signed), headers["x-amz-content-sha256"]])
    sts = "\n".join(["AWS4-HMAC-SHA256", headers["x-amz-date"], f"{date}/{region}/{service}/{term}",
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, term):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(want, fields["Signature"]) else "signature does not match"


class Proxy:
    """Forwards to s3rver after checking the signature; faults on demand:
    fail(n, status) answers the next n requests with status; fail_put_every
    answers every k-th PUT with 500; part_delay holds each UploadPart."""

    def __init__(self, upstream_port, secret=SK):
        self.upstream = upstream_port
        self.secret = secret
        self.log = []
        self.lock = threading.Lock()
        self.fail_next, self.fail_status = 0, 503
        self.fail_put_every, self.puts = 0, 0
        self.part_delay = 0.0
        self.stall_next, self.stall_seconds = 0, 0.0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                try:
                    proxy.handle(self)
                except (OSError, http.client.HTTPException):
                    # the shipper killed mid-request, as the test meant, or
                    # the store stopped at the test's end with one in flight
                    pass

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def fail(self, n, status=503):
        with self.lock:
            self.fail_next, self.fail_status = n, status

    def reply(self, h, status, body=b"", headers=()):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def handle(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        hdrs = {k.lower(): v for k, v in h.headers.items()}
        with self.lock:
            self.log.append((h.command, h.path))
            fail = None
            if self.fail_next > 0:
                self.fail_next -= 1
                fail = self.fail_status
            if h.command == "PUT":
                self.puts += 1
                if self.fail_put_every and self.puts % self.fail_put_every == 0:
                    fail = 500
        with self.lock:
            stall = self.stall_next > 0
            self.stall_next -= stall
        if stall:
            # a store that took the request and never answers: hold it, then
            # drop it unanswered (never forwarded, so nothing is stored)
            time.sleep(self.stall_seconds)
            h.close_connection = True
            return
        bad = sigv4_check(h.command, h.path, hdrs, self.secret)
        if bad:
            xml = (f"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
                   f"<Message>{bad}</Message></Error>").encode()
            return self.reply(h, 403, xml, [("Content-Type", "application/xml")])
        if fail:
            xml = f"<Error><Code>{'SlowDown' if fail == 503 else 'InternalError'}</Code></Error>".encode()
            return self.reply(h, fail, xml)
        if "partNumber=" in h.path and self.part_delay:
            time.sleep(self.part_delay)
        c = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=60)
        fwd = {k: v for k, v in h.headers.items() if k.lower() not in ("expect", "connection")}
        c.request(h.command, h.path, body=body, headers=fwd)
        r = c.getresponse()
        data = r.read()
        hs = [(k, v) for k, v in r.getheaders() if k.lower() not in ("content-length", "connection",
                                                                      "transfer-encoding", "keep-alive")]
        c.close()
        self.reply(h, r.status, data, hs)

    def count(self, method, needle=""):
        with self.lock:
            return sum(1 for m, p in self.log if m == method and needle in p)


# ---- the environment, bundles, and the independent client

def ship_env(tmp, ak=AK, sk=SK, extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # AWS_CA_BUNDLE too
    env.update({"AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk, "AWS_REGION": "eu-west-3",
                "HOME": tmp})
    env.update(extra or {})
    return env


def ship(tmp, d, port, *more, env=None, timeout=120):
    args = [CRASHBOX, "ship", d, "--to", f"s3://{BUCKET}/prod", "--endpoint", f"http://127.0.0.1:{port}"]
    return subprocess.run(args + list(more), capture_output=True, text=True, env=env or ship_env(tmp),
                           timeout=timeout)


def make_bundles(d, *programs):
    """Real bundles: crashbox supervising programs that crash."""
    os.makedirs(d, exist_ok=True)
    for prog in programs:
        cmd = prog if isinstance(prog, list) else [prog]
        subprocess.run([CRASHBOX, "-d", d, "--"] + cmd, capture_output=True, timeout=60)
    return bundles_in(d)


def bundles_in(d):
    return sorted(f for f in os.listdir(d) if f.endswith(".tar.zst") and not f.startswith("."))


def big_bundle(d, mib, name="bigsvc-20261201T120000Z-node7-42-signal.tar.zst"):
    """A bundle-named file past the multipart threshold (a bundle with a core
    dump is this size); incompressible, so no store can shortcut it."""
    with open(os.path.join(d, name), "wb") as f:
        f.write(os.urandom(mib << 20))
    return name


def journal(d):
    path = os.path.join(d, ".crashbox-shipped")
    if not os.path.exists(path):
        return []
    return [line.split("\t")[1] for line in open(path).read().splitlines()]


def rclone(tmp, port, *args):
    conf = os.path.join(tmp, "rclone.conf")
    with open(conf, "w") as f:
        f.write(f"[s3]\ntype = s3\nprovider = Other\naccess_key_id = {AK}\nsecret_access_key = {SK}\n"
                f"endpoint = http://127.0.0.1:{port}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    r = subprocess.run(["rclone", "--config", conf] + list(args), capture_output=True, text=True,
                       env=env, timeout=120)
    return r


def stored(tmp, port, segments=False):
    """The bucket's objects by key: the bundles, and the index segments too when asked."""
    r = rclone(tmp, port, "lsjson", "-R", "--files-only", "-M", f"s3:{BUCKET}")
    assert r.returncode == 0, r.stderr
    return {o["Path"]: o for o in json.loads(r.stdout)
            if segments or "/.crashbox-index/" not in "/" + o["Path"]}


def key_of(name):
    """PREFIX/SERVICE/YYYY/MM/DD/BUNDLE, from the bundle's name alone."""
    t = datetime.datetime.strptime(_time_of(name), "%Y%m%dT%H%M%SZ")
    service = name[: name.index("-" + _time_of(name))]
    return f"prod/{service}/{t:%Y/%m/%d}/{name}"


def _time_of(name):
    for part in name.split("-"):
        if len(part) == 16 and part[8] == "T" and part.endswith("Z"):
            return part
    raise ValueError(name)


def check_same(tmp, port, d, names):
    """rclone, reading the store itself, finds each bundle byte-identical."""
    for n in names:
        k = key_of(n)
        r = rclone(tmp, port, "check", "--one-way", "--download", "--include", n, d,
                   f"s3:{BUCKET}/{os.path.dirname(k)}")
        assert r.returncode == 0 and "0 differences found" in r.stderr, (n, r.stderr)


@contextlib.contextmanager
def store(tmp, secret=SK):
    """s3rver, and the checking proxy in front of it, for one test."""
    need_tools()
    s3 = S3rver(tmp).start()
    px = Proxy(s3.port, secret)
    try:
        yield s3, px
    finally:
        px.close()
        s3.stop()


# ---- the tests

def test_ship_once_stores_real_bundles_signed_with_their_summary_and_only_once(tmp):
    with store(tmp) as (s3, px):
        d = os.path.join(tmp, "bundles")
        names = make_bundles(d, os.path.join(EXAMPLES, "nil-deref"), SEGV)
        assert len(names) == 2, names
        r = ship(tmp, d, px.port, "--once")
        assert r.returncode == 0, r.stderr
        objs = stored(tmp, s3.port)
        assert sorted(objs) == sorted(key_of(n) for n in names), (objs.keys(), names)
        check_same(tmp, s3.port, d, names)
        go = objs[key_of([n for n in names if n.startswith("nil-deref")][0])]["Metadata"]
        assert go["crashbox-service"] == "nil-deref" and go["crashbox-kind"] == "go-panic", go
        assert "nil pointer dereference" in go["crashbox-message"], go
        assert go["crashbox-culprit"].startswith("main."), go
        assert len(go["crashbox-fingerprint"]) >= 8 and go["crashbox-host"], go
        assert sorted(journal(d)) == names
        puts = px.count("PUT")
        # A second run has nothing to do: no request uploads anything again.
        r = ship(tmp, d, px.port, "--once")
        assert r.returncode == 0, r.stderr
        assert px.count("PUT") == puts
        # The bundles stay where they were: shipping copies, it does not move.
        assert bundles_in(d) == names


def test_multipart_killed_midway_leaves_no_visible_object_and_the_next_run_completes_it(tmp):
    with store(tmp) as (s3, px):
        d = os.path.join(tmp, "bundles")
        os.makedirs(d)
        big = big_bundle(d, 12)  # three parts of 5 MiB
        px.part_delay = 1.0
        env = ship_env(tmp)
        p = subprocess.Popen([CRASHBOX, "ship", d, "--to", f"s3://{BUCKET}/prod", "--endpoint",
                              f"http://127.0.0.1:{px.port}", "--part-size", "5MiB", "--once"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 30
        while px.count("PUT", "partNumber=2") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert px.count("PUT", "partNumber=2") == 1, px.log
        p.kill()
        p.wait()
        assert px.count("POST", "uploadId=") == 0, "never completed"
        assert stored(tmp, s3.port) == {}, "no partial object is visible"
        assert journal(d) == []
        assert os.path.exists(os.path.join(d, ".crashbox-ship-pending"))
        px.part_delay = 0
        r = ship(tmp, d, px.port, "--part-size", "5MiB", "--once")
        assert r.returncode == 0, r.stderr
        assert px.count("DELETE", "uploadId=") == 1, "the dead shipper's upload was aborted"
        assert "aborting the upload" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(d, ".crashbox-ship-pending"))
        assert list(stored(tmp, s3.port)) == [key_of(big)]
        check_same(tmp, s3.port, d, [big])
        assert journal(d) == [big]


def test_503_and_500_answers_are_retried_nothing_lost_nothing_duplicated(tmp):
    with store(tmp) as (s3, px):
        d = os.path.join(tmp, "bundles")
        names = make_bundles(d, os.path.join(EXAMPLES, "nil-deref"), SEGV,
                             os.path.join(EXAMPLES, "custom-panic"))
        names.append(big_bundle(d, 11))
        px.fail(3, 503)
        px.fail_put_every = 3
        r = ship(tmp, d, px.port, "--part-size", "5MiB", "--once")
        assert r.returncode == 0, r.stderr
        assert "retrying" in r.stderr and "503" in r.stderr and "500" in r.stderr, r.stderr
        assert sorted(stored(tmp, s3.port)) == sorted(key_of(n) for n in names)
        check_same(tmp, s3.port, d, names)
        j = journal(d)
        assert sorted(j) == sorted(names) and len(j) == len(set(j)), j


def test_a_store_that_never_answers_keeps_every_bundle_for_the_next_run(tmp):
    need_tools()
    d = os.path.join(tmp, "bundles")
    names = make_bundles(d, SEGV)
    r = ship(tmp, d, free_port(), "--once")
    assert r.returncode == 1
    assert "1 bundle(s) not shipped" in r.stderr and "did not answer" in r.stderr, r.stderr
    assert bundles_in(d) == names and journal(d) == []


def test_wrong_credentials_are_a_clear_error_and_nothing_is_deleted(tmp):
    with store(tmp) as (s3, px):
        d = os.path.join(tmp, "bundles")
        names = make_bundles(d, SEGV, os.path.join(EXAMPLES, "nil-deref"))
        r = ship(tmp, d, px.port, "--once", env=ship_env(tmp, sk="not-the-secret"))
        assert r.returncode == 1
        assert "SignatureDoesNotMatch" in r.stderr and "AWS_SECRET_ACCESS_KEY" in r.stderr, r.stderr
        assert px.count("PUT") == 1, "a refusal of the credentials stops the run, it does not hammer"
        r = ship(tmp, d, s3.port, "--once", env=ship_env(tmp, ak="NOBODY"))
        assert r.returncode == 1 and "InvalidAccessKeyId" in r.stderr, r.stderr
        assert bundles_in(d) == names and journal(d) == []
        assert stored(tmp, s3.port) == {}


def test_follow_waits_for_a_store_that_comes_up_later_and_ships_new_bundles_as_they_land(tmp):
    need_tools()
    d = os.path.join(tmp, "bundles")
    first = make_bundles(d, SEGV)
    s3 = S3rver(tmp)  # its port is chosen, nothing listens there yet
    p = subprocess.Popen([CRASHBOX, "ship", d, "--to", f"s3://{BUCKET}/prod", "--endpoint",
                          f"http://127.0.0.1:{s3.port}", "--follow"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ship_env(tmp))
    try:
        time.sleep(3)
        assert journal(d) == [] and p.poll() is None
        s3.start()
        deadline = time.monotonic() + 60
        while journal(d) != first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert journal(d) == first
        # A crash while it follows: inotify wakes it (well before the 10 s rescan).
        t0 = time.monotonic()
        second = [n for n in make_bundles(d, os.path.join(EXAMPLES, "nil-deref")) if n not in first]
        while len(journal(d)) < 2 and time.monotonic() < t0 + 30:
            time.sleep(0.1)
        assert journal(d) == first + second
        assert time.monotonic() - t0 < 8, "shipped on the directory event"
        assert sorted(stored(tmp, s3.port)) == sorted(key_of(n) for n in first + second)
        check_same(tmp, s3.port, d, first + second)
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        s3.stop()
    assert p.returncode == 128 + signal.SIGTERM, err


def test_credentials_file_profile_and_virtual_hosted_addressing(tmp):
    with store(tmp) as (s3, px):
        d = os.path.join(tmp, "bundles")
        names = make_bundles(d, SEGV)
        creds = os.path.join(tmp, "creds")
        with open(creds, "w") as f:
            f.write(f"[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n\n"
                    f"# the one to use\n[ship]\naws_access_key_id = {AK}\naws_secret_access_key={SK}\n")
        env = ship_env(tmp, extra={"AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_PROFILE": "ship"})
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        # BUCKET.s3.localhost: curl resolves *.localhost to loopback itself.
        r = subprocess.run([CRASHBOX, "ship", d, "--to", f"s3://{BUCKET}/prod", "--endpoint",
                            f"http://s3.localhost:{px.port}", "--addressing", "virtual", "--once"],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
        assert all(p.startswith("/prod/") for m, p in px.log), px.log  # the bucket rode in the Host
        assert sorted(stored(tmp, s3.port)) == [key_of(n) for n in names]
        env["AWS_PROFILE"] = "absent"
        r = subprocess.run([CRASHBOX, "ship", d, "--to", f"s3://{BUCKET}/x", "--endpoint",
                            f"http://127.0.0.1:{px.port}", "--once"], capture_output=True, text=True, env=env)
        assert r.returncode == 121 and "no credentials" in r.stderr and "no such profile" in r.stderr, r.stderr


def test_crashbox_ship_without_the_shipper_binary_says_where_it_looked(tmp):
    if not os.access(SHIP, os.X_OK):
        raise Skip("crashbox-ship not built")
    alone = os.path.join(tmp, "bin")
    os.makedirs(alone)
    shutil.copy(CRASHBOX, alone)
    r = subprocess.run([os.path.join(alone, "crashbox"), "ship", tmp, "--to", "s3://b-1/x", "--once"],
                       capture_output=True, text=True, env={"PATH": "/nonexistent"})
    assert r.returncode == 127 and "crashbox-ship not found" in r.stderr, r.stderr
    # Installed layout: bin/crashbox finds ../libexec/crashbox/crashbox-ship.
    os.makedirs(os.path.join(tmp, "libexec", "crashbox"))
    shutil.copy(SHIP, os.path.join(tmp, "libexec", "crashbox"))
    r = subprocess.run([os.path.join(alone, "crashbox"), "ship", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "usage: crashbox ship DIR" in r.stdout, r.stderr


def test_ls_and_top_of_the_store_show_two_nodes_crashes_without_downloading(tmp):
    with store(tmp) as (s3, px):
        nodes = [os.path.join(tmp, f"node{i}") for i in (1, 2)]
        shipped = []
        for d in nodes:
            shipped += make_bundles(d, os.path.join(EXAMPLES, "nil-deref"), SEGV)
            r = ship(tmp, d, px.port, "--once")
            assert r.returncode == 0, r.stderr
        gets = px.count("GET")
        # Another machine: no bundle directory, only the store.
        r = subprocess.run([CRASHBOX, "top", f"s3://{BUCKET}/prod", "--json", "--endpoint",
                            f"http://127.0.0.1:{px.port}"], capture_output=True, text=True, env=ship_env(tmp))
        assert r.returncode == 0, r.stderr
        top = json.loads(r.stdout)
        go = [g for g in top if g["kind"] == "go-panic"]
        assert len(go) == 1 and go[0]["count"] == 2, top
        assert "nil pointer dereference" in go[0]["message"] and go[0]["services"] == "nil-deref"
        r = subprocess.run([CRASHBOX, "ls", "--service", "nil-deref", "--json", f"s3://{BUCKET}/prod",
                            "--endpoint", f"http://127.0.0.1:{px.port}"], capture_output=True, text=True,
                           env=ship_env(tmp))
        assert r.returncode == 0, r.stderr
        rows = json.loads(r.stdout)
        want = sorted(f"s3://{BUCKET}/{key_of(n)}" for n in shipped if n.startswith("nil-deref"))
        assert sorted(row["bundle"] for row in rows) == want, rows
        assert all(row["culprit"].startswith("main.") and row["fingerprint"] for row in rows), rows
        # Per command: one listing and a GET of each node's index segment;
        # never a bundle's body, no request per bundle.
        segs = sorted(k for k in stored(tmp, s3.port, segments=True) if k.startswith("prod/.crashbox-index/"))
        assert len(segs) == 2 and all(k.endswith(".tsv") for k in segs), segs
        assert px.count("GET") - gets == 2 * (1 + len(segs)), px.log[-10:]
        assert px.count("HEAD") == 0, px.log
        # A segment gone (a shipper killed before it wrote one): its bundles
        # are asked for one by one, and still listed in full.
        r = rclone(tmp, s3.port, "deletefile", f"s3:{BUCKET}/{segs[0]}")
        assert r.returncode == 0, r.stderr
        r = subprocess.run([CRASHBOX, "ls", "--json", f"s3://{BUCKET}/prod", "--endpoint",
                            f"http://127.0.0.1:{px.port}"], capture_output=True, text=True, env=ship_env(tmp))
        assert r.returncode == 0, r.stderr
        rows = json.loads(r.stdout)
        assert sorted(row["bundle"] for row in rows) == sorted(f"s3://{BUCKET}/{key_of(n)}" for n in shipped)
        assert all(row["fingerprint"] for row in rows), rows
        assert px.count("HEAD") == 2, "one HEAD for each bundle of the lost segment, none for the other"


def test_retention_keeps_unshipped_bundles_past_the_counts_but_not_past_the_space_limit(tmp):
    with store(tmp) as (s3, px):
        d = os.path.join(tmp, "bundles")
        first = make_bundles(d, SEGV)
        assert ship(tmp, d, px.port, "--once").returncode == 0
        assert journal(d) == first
        # The store is out of reach now; four more crashes of one service
        # under max_bundles = 2: only the shipped one may go.
        pol = os.path.join(tmp, "keep2.policy")
        with open(pol, "w") as f:
            f.write("[retention]\nmax_bundles = 2\nrate_limit_burst = 100\n")
        for _ in range(4):
            subprocess.run([CRASHBOX, "-d", d, "-p", pol, "--", *SEGV], capture_output=True, timeout=60)
            time.sleep(1.05)  # one bundle name per second
        now = bundles_in(d)
        assert len(now) == 4 and first[0] not in now, now
        # Shipped, they are ordinary again: the next crash trims to two.
        assert ship(tmp, d, px.port, "--once").returncode == 0
        subprocess.run([CRASHBOX, "-d", d, "-p", pol, "--", *SEGV], capture_output=True, timeout=60)
        assert len(bundles_in(d)) == 2, bundles_in(d)
        # A space limit is hard: it deletes what it must, and says so. Two
        # older unshipped bundles of 700 KiB put the directory past 1 MiB.
        for t in ("20200101T000000Z", "20200101T000001Z"):
            with open(os.path.join(d, f"sh-{t}-h-1-signal.tar.zst"), "wb") as f:
                f.write(os.urandom(700 << 10))
        with open(pol, "w") as f:
            f.write("[retention]\nmax_bundles = 100\nmax_total_size = 1MiB\nrate_limit_burst = 100\n")
        r = subprocess.run([CRASHBOX, "-d", d, "-p", pol, "--", *SEGV], capture_output=True, timeout=60)
        assert b"1 of them not yet shipped: max_total_size or keep_free forced it" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(d, "sh-20200101T000000Z-h-1-signal.tar.zst"))


def test_a_ship_policy_uploads_after_each_bundle_as_a_watcher_child(tmp):
    with store(tmp) as (s3, px):
        d = os.path.join(tmp, "bundles")
        down = free_port()
        pol = os.path.join(tmp, "ship.policy")
        with open(pol, "w") as f:
            f.write(f"[ship]\nto = s3://{BUCKET}/prod\nendpoint = http://127.0.0.1:{down}\n"
                    "[hooks]\ntimeout = 20s\n[retention]\nrate_limit_burst = 100\n")
        env = ship_env(tmp, extra={"GOGC": "off"})
        # The store is unreachable: the service's status is untouched and the
        # bundle stays for the next run.
        r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", *SEGV], capture_output=True,
                           text=True, env=env, timeout=60)
        assert r.returncode == 128 + signal.SIGSEGV, r.stderr
        assert "1 bundle(s) not shipped" in r.stderr and "failed with exit status 1" in r.stderr, r.stderr
        first = bundles_in(d)
        assert len(first) == 1 and journal(d) == []
        # Reachable, with delete_after: this crash's bundle and the one left
        # go up, and leave the directory only once the store has them.
        with open(pol, "w") as f:
            f.write(f"[ship]\nto = s3://{BUCKET}/prod\nendpoint = http://127.0.0.1:{px.port}\n"
                    "delete_after = yes\n[retention]\nrate_limit_burst = 100\n")
        time.sleep(1.05)
        r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", os.path.join(EXAMPLES, "nil-deref")],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 2, r.stderr
        assert "crashbox-ship: done" in r.stderr, r.stderr
        shipped = journal(d)
        assert len(shipped) == 2 and shipped[0] == first[0], shipped
        assert bundles_in(d) == [], "delete_after freed the directory"
        assert sorted(stored(tmp, s3.port)) == sorted(key_of(n) for n in shipped)


def test_show_of_a_shipped_bundle_fetches_it_and_reads_it_as_a_local_one(tmp):
    with store(tmp) as (s3, px):
        d = os.path.join(tmp, "bundles")
        names = make_bundles(d, os.path.join(EXAMPLES, "nil-deref"))
        assert ship(tmp, d, px.port, "--once").returncode == 0
        local = subprocess.run([CRASHBOX, "show", "--json", os.path.join(d, names[0])], capture_output=True,
                               text=True)
        assert local.returncode == 0, local.stderr
        url = f"s3://{BUCKET}/{key_of(names[0])}"
        env = ship_env(tmp, extra={"TMPDIR": tmp})
        r = subprocess.run([CRASHBOX, "show", "--json", url, "--endpoint", f"http://127.0.0.1:{px.port}"],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        # The same summary as the local copy, the fetched copy gone afterwards.
        a, b = json.loads(local.stdout), json.loads(r.stdout)
        a.pop("bundle", None), b.pop("bundle", None)
        assert a == b
        assert not [f for f in os.listdir(tmp) if f.startswith("crashbox-show-")]
        r = subprocess.run([CRASHBOX, "show", url + "x", "--endpoint", f"http://127.0.0.1:{px.port}"],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 1 and "NoSuchKey" in r.stderr, r.stderr


def test_a_stalling_store_is_cut_off_at_the_timeout_and_the_request_retried(tmp):
    with store(tmp) as (s3, px):
        d = os.path.join(tmp, "bundles")
        names = make_bundles(d, SEGV, os.path.join(EXAMPLES, "nil-deref"))
        px.stall_next, px.stall_seconds = 2, 40
        t0 = time.monotonic()
        r = subprocess.run([CRASHBOX, "ship", d, f"--to=s3://{BUCKET}/prod", f"--endpoint=http://127.0.0.1:{px.port}",
                            "--timeout=2s", "--once"], capture_output=True, text=True, env=ship_env(tmp), timeout=120)
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stderr
        assert "retrying" in r.stderr, r.stderr
        assert took < 30, f"{took:.1f} s: the stalled requests were not cut off at 2 s"
        assert sorted(stored(tmp, s3.port)) == sorted(key_of(n) for n in names)
        check_same(tmp, s3.port, d, names)
        assert sorted(journal(d)) == names
        # ls with the same stall: cut off and retried too, "--endpoint=URL" as well as "--endpoint URL"
        px.stall_next = 1
        r = subprocess.run([CRASHBOX, "ls", "--json", f"s3://{BUCKET}/prod", f"--endpoint=http://127.0.0.1:{px.port}",
                            "--timeout", "2s"], capture_output=True, text=True, env=ship_env(tmp), timeout=60)
        assert r.returncode == 0, r.stderr
        assert sorted(row["bundle"] for row in json.loads(r.stdout)) == sorted(
            f"s3://{BUCKET}/{key_of(n)}" for n in names)
        r = subprocess.run([CRASHBOX, "ship", d, "--to", f"s3://{BUCKET}/prod", "--timeout", "0s", "--once"],
                           capture_output=True, text=True, env=ship_env(tmp))
        assert r.returncode == 121 and "--timeout '0s'" in r.stderr, r.stderr


def test_the_journal_forgets_bundles_no_longer_in_the_directory(tmp):
    with store(tmp) as (s3, px):
        d = os.path.join(tmp, "bundles")
        names = make_bundles(d, SEGV, os.path.join(EXAMPLES, "nil-deref"), os.path.join(EXAMPLES, "custom-panic"))
        assert ship(tmp, d, px.port, "--once").returncode == 0
        shipped = journal(d)  # oldest first, by the time in their names
        assert sorted(shipped) == names
        os.unlink(os.path.join(d, names[0]))  # as retention deletes a shipped bundle
        with open(os.path.join(d, ".crashbox-shipped"), "a") as f:
            f.write("v1\tnil-der")  # torn by a shipper killed mid-append
        time.sleep(1.05)
        new = [n for n in make_bundles(d, SEGV) if n not in names]
        r = ship(tmp, d, px.port, "--once", "--delete-after")
        assert r.returncode == 0, r.stderr
        # The entries kept stay in their order (the three bundles' names
        # may hold two different seconds: not the names' sorted order).
        kept = [n for n in shipped if n != names[0]]
        assert journal(d) == kept + new, ("the deleted bundle's entry and the torn line are gone", journal(d), kept)
        assert bundles_in(d) == names[1:], "delete_after took the one it shipped"
        r = ship(tmp, d, px.port, "--once")
        assert r.returncode == 0, r.stderr
        assert journal(d) == kept
        assert not [f for f in os.listdir(d) if f.startswith(".crashbox-shipped.")], os.listdir(d)


def follower(tmp, d, port):
    """A sidecar shipper (--follow) on d, started: its journal is there."""
    p = subprocess.Popen([CRASHBOX, "ship", d, "--to", f"s3://{BUCKET}/prod", "--endpoint",
                          f"http://127.0.0.1:{port}", "--follow"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ship_env(tmp))
    deadline = time.monotonic() + 20
    while not os.path.exists(os.path.join(d, ".crashbox-shipped")) and time.monotonic() < deadline:
        time.sleep(0.1)
    return p


def test_a_ship_policy_beside_a_sidecar_shipper_defers_to_it_without_a_failed_hook(tmp):
    with store(tmp) as (s3, px):
        d = os.path.join(tmp, "bundles")
        os.makedirs(d)
        side = follower(tmp, d, px.port)
        try:
            pol = os.path.join(tmp, "ship.policy")
            with open(pol, "w") as f:
                f.write(f"[ship]\nto = s3://{BUCKET}/prod\nendpoint = http://127.0.0.1:{px.port}\n")
            r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", *SEGV], capture_output=True, text=True,
                               env=ship_env(tmp), timeout=60)
            assert r.returncode == 128 + signal.SIGSEGV, r.stderr
            assert "another shipper is running on" in r.stderr, r.stderr
            assert "failed with exit status" not in r.stderr, r.stderr
            names = bundles_in(d)
            deadline = time.monotonic() + 30
            while journal(d) != names and time.monotonic() < deadline:
                time.sleep(0.1)
            assert journal(d) == names, "the sidecar shipped it"
            assert sorted(stored(tmp, s3.port)) == [key_of(n) for n in names]
        finally:
            side.send_signal(signal.SIGTERM)
            side.communicate(timeout=30)


def test_a_directory_filling_while_the_store_is_unreachable_loses_only_what_space_forces_and_says_so(tmp):
    need_tools()
    d = os.path.join(tmp, "bundles")
    os.makedirs(d)
    s3 = S3rver(tmp)  # its port is chosen, nothing listens there yet
    p = follower(tmp, d, s3.port)
    try:
        # The store was never reached: still no crash past the counts is lost.
        pol = os.path.join(tmp, "keep2.policy")
        with open(pol, "w") as f:
            f.write("[retention]\nmax_bundles = 2\nrate_limit_burst = 100\n")
        for _ in range(3):
            subprocess.run([CRASHBOX, "-d", d, "-p", pol, "--", *SEGV], capture_output=True, timeout=60)
            time.sleep(1.05)
        kept = bundles_in(d)
        assert len(kept) == 3, kept
        # The space limit forces it: the oldest unshipped bundle goes, the log
        # and the index both say so.
        big = kept[0]
        with open(os.path.join(d, big), "ab") as f:
            f.write(os.urandom(1200 << 10))
        with open(pol, "w") as f:
            f.write("[retention]\nmax_bundles = 100\nmax_total_size = 1MiB\nrate_limit_burst = 100\n")
        r = subprocess.run([CRASHBOX, "-d", d, "-p", pol, "--", os.path.join(EXAMPLES, "nil-deref")],
                           capture_output=True, text=True, timeout=60)
        assert "1 of them not yet shipped: max_total_size or keep_free forced it" in r.stderr, r.stderr
        left = bundles_in(d)
        assert big not in left and len(left) == 3, left
        lines = [ln.split("\t") for ln in open(os.path.join(d, ".crashbox-index")).read().splitlines()]
        lost = [ln for ln in lines if ln[1] == "D"]
        assert len(lost) == 1 and lost[0][7] == big and lost[0][3] == "sh", lines
        assert not [ln for ln in lines if ln[1] == "B" and ln[7] == big], lines
        # The store comes up: the rest go up, each once.
        s3.start()
        deadline = time.monotonic() + 60
        while sorted(journal(d)) != left and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sorted(journal(d)) == left
        # (the shipper may still be putting its index segment as the listing runs)
        # The forced-out bundle may have been in an upload's retries when
        # retention took it (the shipper holds it open): then it reached the
        # store whole, which loses nothing. It is never there in part.
        want = sorted(key_of(n) for n in left)
        also = sorted(key_of(n) for n in left + [big])
        deadline = time.monotonic() + 10
        while sorted(stored(tmp, s3.port)) not in (want, also) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sorted(stored(tmp, s3.port)) in (want, also), (stored(tmp, s3.port), left)
        check_same(tmp, s3.port, d, left)
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
        s3.stop()
