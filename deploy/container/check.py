#!/usr/bin/env python3
"""Static checks of deploy/container/{Dockerfile,compose.yaml}.

No container engine runs on the machines this project is built on, so these files
cannot be built or started in tests. This script checks what can be checked without
one (Python 3 standard library plus PyYAML, Debian's python3-yaml):

Dockerfile
  - at least two stages, every one FROM debian:bookworm*; the runtime stage copies
    from the build stage and installs no compiler or -dev package;
  - the build stage installs every -dev package scripts/bootstrap.sh installs
    (except the test-only ones);
  - every shared library the built binaries load directly (ELF NEEDED, resolved with
    ldd and dpkg -S) comes from a package the runtime stage installs, or libc6;
  - apt-get install uses --no-install-recommends and the same RUN cleans the lists;
  - the last stage runs as a non-root USER, has a HEALTHCHECK and an exec-form
    ENTRYPOINT; no ADD of URLs.
compose.yaml
  - valid YAML with services mongo, ticketsync-init, ticketsyncd;
  - mongo runs with --replSet <name>, its health check initiates that set and its
    JavaScript parses (checked with node when --node is given);
  - every MongoDB URI names the same replica set and the mongo service;
  - ticketsync-init runs `ticketsyncctl init`; ticketsyncd waits for it to complete
    and for mongo to be healthy;
  - no secret value inline (API key, OAuth secret, passwords in URIs): secrets come
    from files; the build context and Dockerfile exist;
  - with --daemon BIN: ticketsyncd --check-config accepts the service's environment
    (so every TICKETSYNC_* name is a real configuration key).

Exit status 0 when every check passes, 1 otherwise (each failure printed), 2 on usage.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # reported by the caller as a skip, not a failure
    print("check.py: PyYAML is not installed (Debian: python3-yaml)", file=sys.stderr)
    sys.exit(3)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
# Needed only to test (cmocka) or fuzz (libFuzzer runtime), never to build the image.
TEST_ONLY_PACKAGES = {"libcmocka-dev", "libclang-rt-14-dev"}
BASE_IMAGE_PACKAGES = {"libc6"}  # Essential in every Debian image
# Sanitizer runtimes appear only in -DTICKETSYNC_SANITIZE=ON test builds; the image
# builds without sanitizers.
SANITIZER_LIBS = re.compile(r"^lib(asan|ubsan|lsan|tsan)\.so")
BUILD_TOOLS = {"build-essential", "cmake", "gcc", "g++", "clang", "make", "pkg-config"}

failures = []


def fail(msg):
    failures.append(msg)


# ---- Dockerfile --------------------------------------------------------------------

def dockerfile_instructions(text):
    """(instruction, arguments) pairs with continuations joined and comments dropped."""
    out, buf = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    if buf:
        fail("Dockerfile: the last instruction ends with a line continuation")
    return out


def stages_of(instructions):
    stages = []
    for ins, args in instructions:
        if ins == "FROM":
            words = args.split()
            image = [w for w in words if not w.startswith("--")][0]
            alias = words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else None
            stages.append({"image": image, "alias": alias, "ins": []})
        elif stages:
            stages[-1]["ins"].append((ins, args))
        elif ins != "ARG":
            fail(f"Dockerfile: {ins} before the first FROM")
    return stages


def apt_packages(run_args):
    """Packages named by `apt-get install` in one RUN."""
    pkgs = []
    for part in re.split(r"&&|;", run_args):
        words = shlex.split(part)
        while words and "=" in words[0]:  # VAR=value prefixes
            words.pop(0)
        if len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words:
            after = words[words.index("install") + 1:]
            pkgs += [w for w in after if not w.startswith("-")]
    return pkgs


def bootstrap_dev_packages(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"APT_PACKAGES=\((.*?)\)", text, re.S)
    if not m:
        fail(f"{path}: no APT_PACKAGES list")
        return set()
    return {p for p in m.group(1).split() if p.endswith("-dev")} - TEST_ONLY_PACKAGES


def library_packages(binaries):
    """Debian packages providing the libraries the binaries load directly."""
    needed = {}
    for b in binaries:
        try:
            dyn = subprocess.run(["readelf", "-d", b], capture_output=True, text=True, check=True).stdout
            ldd = subprocess.run(["ldd", b], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            fail(f"cannot inspect {b}: {e}")
            continue
        paths = {}
        for line in ldd.splitlines():
            m = re.match(r"\s*(\S+) => (\S+)", line)
            if m:
                paths[m.group(1)] = m.group(2)
        for name in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn):
            if SANITIZER_LIBS.match(name):
                continue
            path = paths.get(name)
            if path is None:
                fail(f"{b}: {name} not found by ldd")
                continue
            needed.setdefault(path, set()).add(os.path.basename(b))
    # One dpkg call for every candidate name (Debian 12 is usr-merged: dpkg knows a
    # file under only one of /lib/... and /usr/lib/...).
    candidates = {}
    for path in needed:
        real = os.path.realpath(path)
        candidates[path] = [path, real, "/usr" + path, "/usr" + real]
    flat = sorted({c for cs in candidates.values() for c in cs})
    r = subprocess.run(["dpkg", "-S"] + flat, capture_output=True, text=True)
    owner_of = {}
    for line in r.stdout.splitlines():
        pkgs, _, file = line.partition(": ")
        owner_of[file] = pkgs.split(",")[0].split(":")[0].strip()
    out = {}
    for path, users in needed.items():
        owner = next((owner_of[c] for c in candidates[path] if c in owner_of), None)
        if owner is None:
            fail(f"no Debian package owns {path} (loaded by {', '.join(sorted(users))})")
            continue
        out.setdefault(owner, set()).add(os.path.basename(path))
    return out


def check_dockerfile(path, bootstrap, binaries):
    text = open(path, encoding="utf-8").read()
    stages = stages_of(dockerfile_instructions(text))
    if len(stages) < 2:
        fail(f"Dockerfile: {len(stages)} stage(s); a build and a runtime stage are expected")
        return
    for s in stages:
        if not s["image"].startswith("debian:bookworm"):
            fail(f"Dockerfile: stage FROM {s['image']} is not Debian 12 (debian:bookworm*)")
        for ins, args in s["ins"]:
            if ins == "ADD" and re.search(r"https?://", args):
                fail(f"Dockerfile: ADD of a URL ({args}); download in a RUN with checksums instead")
            if ins == "RUN" and apt_packages(args):
                if "--no-install-recommends" not in args:
                    fail(f"Dockerfile: apt-get install without --no-install-recommends: {args[:80]}")
                if "rm -rf /var/lib/apt/lists" not in args:
                    fail("Dockerfile: apt-get install without rm -rf /var/lib/apt/lists/* in the same RUN")
    build, runtime = stages[0], stages[-1]
    build_pkgs = {p for ins, a in build["ins"] if ins == "RUN" for p in apt_packages(a)}
    runtime_pkgs = {p for ins, a in runtime["ins"] if ins == "RUN" for p in apt_packages(a)}

    for p in sorted(bootstrap_dev_packages(bootstrap) - build_pkgs):
        fail(f"Dockerfile: the build stage lacks {p} (scripts/bootstrap.sh installs it)")
    for p in sorted(runtime_pkgs):
        if p.endswith("-dev") or p in BUILD_TOOLS:
            fail(f"Dockerfile: the runtime stage installs the build package {p}")
    if binaries:
        for pkg, libs in sorted(library_packages(binaries).items()):
            if pkg not in runtime_pkgs and pkg not in BASE_IMAGE_PACKAGES:
                fail(f"Dockerfile: the runtime stage lacks {pkg} ({', '.join(sorted(libs))})")

    copies_from = [a for ins, a in runtime["ins"] if ins == "COPY" and "--from=" in a]
    if build["alias"] is None or not any(f"--from={build['alias']}" in a for a in copies_from):
        fail("Dockerfile: the runtime stage does not COPY --from the build stage")
    users = [a for ins, a in runtime["ins"] if ins == "USER"]
    if not users:
        fail("Dockerfile: the runtime stage has no USER (it would run as root)")
    elif users[-1].split(":")[0] in ("root", "0"):
        fail(f"Dockerfile: the runtime stage runs as root (USER {users[-1]})")
    if not any(ins == "HEALTHCHECK" for ins, _ in runtime["ins"]):
        fail("Dockerfile: no HEALTHCHECK in the runtime stage")
    entry = [a for ins, a in runtime["ins"] if ins == "ENTRYPOINT"]
    if not entry:
        fail("Dockerfile: no ENTRYPOINT in the runtime stage")
    else:
        try:
            if not isinstance(json.loads(entry[-1]), list):
                raise ValueError
        except ValueError:
            fail(f"Dockerfile: ENTRYPOINT is not in exec (JSON array) form: {entry[-1]}")


# ---- compose.yaml ------------------------------------------------------------------

def as_list(cmd):
    if cmd is None:
        return []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def environment(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def check_compose(path, node, daemon, base=None):
    base = base or os.path.dirname(os.path.abspath(path))
    try:
        doc = yaml.safe_load(open(path, encoding="utf-8"))
    except yaml.YAMLError as e:
        fail(f"compose: not valid YAML: {e}")
        return
    services = (doc or {}).get("services") or {}
    for name in ("mongo", "ticketsync-init", "ticketsyncd"):
        if name not in services:
            fail(f"compose: no service {name}")
    if failures:
        return
    mongo, init, daemon_svc = services["mongo"], services["ticketsync-init"], services["ticketsyncd"]

    if not str(mongo.get("image", "")).startswith("mongo:"):
        fail(f"compose: mongo image is {mongo.get('image')!r}, expected the official mongo image")
    cmd = as_list(mongo.get("command"))
    rs = cmd[cmd.index("--replSet") + 1] if "--replSet" in cmd and cmd.index("--replSet") + 1 < len(cmd) else None
    if rs is None:
        fail("compose: mongo does not run with --replSet (change streams need a replica set)")
    test = as_list((mongo.get("healthcheck") or {}).get("test"))
    script = test[test.index("--eval") + 1] if "--eval" in test and test.index("--eval") + 1 < len(test) else ""
    if "rs.initiate" not in script:
        fail("compose: the mongo health check does not initiate the replica set")
    elif rs is not None and f"_id: '{rs}'" not in script and f'_id: "{rs}"' not in script:
        fail(f"compose: the health check initiates a set other than {rs}")
    if script and node:
        r = subprocess.run([node, "-e", "new Function(process.argv[1])", script], capture_output=True, text=True)
        if r.returncode != 0:
            errs = [l for l in r.stderr.splitlines() if "Error" in l] or r.stderr.strip().splitlines()[-1:]
            fail(f"compose: the health check's JavaScript does not parse: {errs[0] if errs else r.returncode}")

    for name, svc in services.items():
        for k, v in environment(svc).items():
            if k.endswith("MONGODB_URI"):
                if rs is not None and f"replicaSet={rs}" not in v:
                    fail(f"compose: {name} {k} does not name replica set {rs}: {v}")
                if "mongo:" not in v:
                    fail(f"compose: {name} {k} does not point at the mongo service: {v}")
                if re.search(r"//[^/@]+:[^/@]+@", v):
                    fail(f"compose: {name} {k} holds a password inline")
            if re.search(r"(API_KEY|SECRET|PASSWORD)$", k) and v and not v.startswith("${"):
                fail(f"compose: {name} sets {k} inline; use a *_FILE variable and a secret")

    if as_list(init.get("entrypoint"))[-1:] != ["/usr/bin/ticketsyncctl"] and "ticketsyncctl" not in " ".join(as_list(init.get("command"))):
        fail("compose: ticketsync-init does not run ticketsyncctl")
    if "init" not in as_list(init.get("command")):
        fail("compose: ticketsync-init does not run `ticketsyncctl init`")
    deps = daemon_svc.get("depends_on") or {}
    if not isinstance(deps, dict) or (deps.get("ticketsync-init") or {}).get("condition") != "service_completed_successfully":
        fail("compose: ticketsyncd does not wait for ticketsync-init to complete successfully")
    if not isinstance(deps, dict) or (deps.get("mongo") or {}).get("condition") != "service_healthy":
        fail("compose: ticketsyncd does not wait for mongo to be healthy")
    if ((init.get("depends_on") or {}).get("mongo") or {}).get("condition") != "service_healthy":
        fail("compose: ticketsync-init does not wait for mongo to be healthy")

    built = [s for s in services.values() if isinstance(s.get("build"), dict)]
    for s in built:
        ctx = os.path.normpath(os.path.join(base, s["build"].get("context", ".")))
        df = os.path.join(ctx, s["build"].get("dockerfile", "Dockerfile"))
        if not os.path.isfile(df):
            fail(f"compose: build Dockerfile {df} does not exist")
    if not built:
        fail("compose: no service builds the ticketsync image")

    secret_defs = doc.get("secrets") or {}
    for s in daemon_svc.get("secrets") or []:
        sname = s if isinstance(s, str) else s.get("source")
        if sname not in secret_defs:
            fail(f"compose: ticketsyncd uses undefined secret {sname}")

    if daemon:
        check_daemon_env(daemon, environment(daemon_svc), secret_defs)


def check_daemon_env(daemon, env, secret_defs):
    """ticketsyncd --check-config with the service's environment."""
    with tempfile.TemporaryDirectory() as tmp:
        run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        # The test suite's MONGOC_DISABLE_SHM goes through: without it, libmongoc can
        # print a shared-memory warning at load time under many parallel tests, which
        # is about this machine, not about the service's environment.
        if "MONGOC_DISABLE_SHM" in os.environ:
            run_env["MONGOC_DISABLE_SHM"] = os.environ["MONGOC_DISABLE_SHM"]
        for k, v in env.items():
            if v.startswith("/run/secrets/"):
                # Stand-in for the mounted secret (same permissions the README asks for).
                f = os.path.join(tmp, os.path.basename(v))
                with open(os.open(f, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
                    fh.write("placeholder-key\n")
                v = f
            # ${VAR:?message} / ${VAR:-default}: a value the operator would supply.
            v = re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "https://extrahop.example.com", v)
            v = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", v)
            run_env[k] = v
        r = subprocess.run([daemon, "--check-config"], env=run_env, capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"compose: ticketsyncd --check-config refuses the ticketsyncd environment: "
                 f"{(r.stderr or r.stdout).strip()}")
        elif "warn" in r.stderr.lower():
            fail(f"compose: ticketsyncd --check-config warns about the environment: {r.stderr.strip()}")


def main():
    ap = argparse.ArgumentParser(description="Static checks of the container files.")
    ap.add_argument("--dockerfile", default=os.path.join(HERE, "Dockerfile"))
    ap.add_argument("--compose", default=os.path.join(HERE, "compose.yaml"))
    ap.add_argument("--compose-dir", help="directory relative paths in the compose file start from "
                    "(default: the compose file's)")
    ap.add_argument("--bootstrap", default=os.path.join(ROOT, "scripts", "bootstrap.sh"))
    ap.add_argument("--binary", action="append", default=[],
                    help="built binary whose libraries the runtime stage must provide (repeatable)")
    ap.add_argument("--daemon", help="ticketsyncd to run --check-config with the compose environment")
    ap.add_argument("--node", help="node, to parse the health check's JavaScript")
    a = ap.parse_args()

    check_dockerfile(a.dockerfile, a.bootstrap, a.binary)
    check_compose(a.compose, a.node, a.daemon, a.compose_dir)
    for f in failures:
        print(f"check.py: {f}")
    if not failures:
        print("check.py: Dockerfile and compose.yaml pass the static checks")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
