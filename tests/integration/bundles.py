"""Reading crash bundles back with the real tools: GNU tar, bsdtar, zstd."""
import json
import os
import re
import shutil
import subprocess

NAME_RE = re.compile(r"^(?P<service>[A-Za-z0-9._-]+)-(?P<time>\d{8}T\d{6}Z)-(?P<host>[A-Za-z0-9._-]+)-"
                     r"(?P<pid>\d+)-(?P<kind>[a-z-]+)\.tar\.zst$")


def list_bundles(d):
    return sorted(f for f in os.listdir(d) if f.endswith(".tar.zst"))


def only_bundle(d):
    """The path of the one bundle in d."""
    b = list_bundles(d)
    assert len(b) == 1, b
    return os.path.join(d, b[0])


def members(path):
    out = subprocess.run(["tar", "--zstd", "-tf", path], capture_output=True, check=True).stdout
    return out.decode().split()


def member(path, name):
    return subprocess.run(["tar", "--zstd", "-xOf", path, name], capture_output=True, check=True).stdout


def manifest(path):
    return json.loads(member(path, "manifest.json"))


def extract_all_ways(path, dest):
    """Extracts with GNU tar, bsdtar and zstd|tar; returns the three trees' file lists."""
    trees = []
    for i, how in enumerate(["gnu", "bsdtar", "zstd-pipe"]):
        d = os.path.join(dest, how)
        os.makedirs(d)
        if how == "gnu":
            subprocess.run(["tar", "--zstd", "-xf", path, "-C", d], check=True)
        elif how == "bsdtar":
            if not shutil.which("bsdtar"):
                raise AssertionError("bsdtar missing: .ci/install-deps installs libarchive-tools")
            subprocess.run(["bsdtar", "-xf", path, "-C", d], check=True)
        else:
            z = subprocess.Popen(["zstd", "-dc", path], stdout=subprocess.PIPE)
            subprocess.run(["tar", "-xf", "-", "-C", d], stdin=z.stdout, check=True)
            z.stdout.close()
            assert z.wait() == 0
        files = []
        for root, _, names in os.walk(d):
            for n in names:
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    files.append((os.path.relpath(p, d), f.read()))
        trees.append(sorted(files))
    return trees
