#!/usr/bin/env python3
"""Static checks of the container files in deploy/container.

No container engine runs on the machines this project is built on, so these files
cannot be built or started in tests. This script checks what can be checked without
one (Python 3 standard library plus PyYAML, Debian's python3-yaml; node, when given,
runs the MongoDB shell scripts against stand-ins):

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
make-secrets.sh (run with --engine none into a scratch directory)
  - exits 0 and makes a 0700 directory of files no group or other may read; its
    files stand in for the secrets in the checks below.
compose.yaml (evaluation) and compose.secure.yaml (secured), each
  - valid YAML with services mongo, ticketsync-init, ticketsyncd; an explicit project
    name, not the same in both (the secured variant must not start on the evaluation
    variant's volume, a database without users);
  - mongo runs with --replSet <name> and --oplogMinRetentionHours N > 0 (not through
    --setParameter, which mongod refuses for it); its health check initiates that set
    (run with node against a stand-in shell: it calls rs.initiate with the set's name
    and the member mongo:27017);
  - every service on the locally built ticketsync image has build: or
    pull_policy: never, so compose never pulls it from a registry;
  - every ticketsync service has read_only: true, cap_drop: [ALL] and
    security_opt: no-new-privileges:true;
  - every MongoDB URI names the same replica set and the mongo service, with no
    password inline; no secret value inline (API key, OAuth secret, passwords,
    MONGO_INITDB_ROOT_PASSWORD): secrets come from files; every /run/secrets/ path
    in an environment or command is a secret the service mounts; every secret file is
    one make-secrets.sh makes;
  - ticketsync-init runs `ticketsyncctl init`; ticketsyncd waits for it to complete
    and for mongo to be healthy; the build context and Dockerfile exist;
  - with --daemon BIN: ticketsyncd --check-config accepts the service's command and
    environment (so every TICKETSYNC_* name is a real configuration key); with
    --ctl BIN: ticketsyncctl accepts ticketsync-init's command (with --help);
  - no comment tells the operator to chown a file on the host to a container uid
    (wrong for a rootless engine); nor does README.md or make-secrets.sh.
compose.yaml only
  - its leading comment says it is the evaluation variant and names compose.secure.yaml.
compose.secure.yaml only
  - mongo runs with --auth and --keyFile (a mounted secret whose stand-in mongod would
    accept: 6 to 1024 base64 characters, no group or other permissions), and a root
    user from MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD_FILE; its health
    check logs in to admin as that user with that password before anything else;
  - the ticketsync services set no TICKETSYNC_MONGODB_URI (it would win over the file)
    and take -c /run/secrets/<secret>; that file's [mongodb] uri has the ticketsync
    user's credentials and the right authSource;
  - mongo-init/ticketsync-user.js is mounted into /docker-entrypoint-initdb.d/ and,
    run with node, creates exactly that user with that password, readWrite and dbAdmin
    on the ticketsync services' database.
README.md
  - names both variants; shows `docker compose [-f FILE] run --rm ticketsync-init ...`
    (ticketsyncctl inside the compose network) for each, and every such command, there
    and in the compose files' comments, is one ticketsyncctl accepts (with --ctl) and
    keeps the service's -c file.

Exit status 0 when every check passes, 1 otherwise (each failure printed), 2 on usage,
3 without PyYAML.
"""

import argparse
import configparser
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import urllib.parse

try:
    import yaml
except ImportError:  # reported by the caller as a skip, not a failure
    print("check.py: PyYAML is not installed (Debian: python3-yaml)", file=sys.stderr)
    sys.exit(3)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
# Needed only to test (cmocka), fuzz (libFuzzer runtime) or build and check the Debian
# package (dpkg-dev: dpkg-shlibdeps), never to build the image.
TEST_ONLY_PACKAGES = {"libcmocka-dev", "libclang-rt-14-dev", "dpkg-dev"}
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


# ---- shared helpers ----------------------------------------------------------------

# The image the compose files build; a service naming it must never pull it.
LOCAL_IMAGE = re.compile(r"^(localhost/)?ticketsync(:|$)")
SECRETS_DIR = "/run/secrets/"
# A literal `chown [-opts] UID[:GID]` ...
HOST_CHOWN = re.compile(r"\bchown\s+(?:-\S+\s+)*\d+(?::\d+)?(?=\s|$)")
# ... is fine only when it runs inside the container engine, where uids map as the
# services see them.
ENGINE_CHOWN = re.compile(r"\b(?:docker|podman)\b[^#\n]*\brun\b[^#\n]*\bchown\b|\bpodman\s+unshare\s+chown\b")
# ticketsyncctl in the compose network, as a shell line (in a code block or a comment):
# `docker compose [-f FILE] run [opts] ticketsync-init ARGS`
RUN_CTL = re.compile(r"^[ \t#$]*(?:docker|podman)[ -]compose((?:[ \t]+-f[ \t]+\S+)*)[ \t]+run[ \t]+"
                     r"((?:-\S+[ \t]+)*)ticketsync-init\b([^\n`]*)", re.M)
KEYFILE_CHARS = re.compile(r"^[A-Za-z0-9+/=]+$")


def as_list(cmd):
    if cmd is None:
        return []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def environment(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def arg_value(args, name):
    """The value of `--name V` or `--name=V` in args, or None."""
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return None


def logical_lines(text):
    """Lines with backslash continuations joined."""
    out, buf = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        out.append(buf + line)
        buf = ""
    if buf:
        out.append(buf)
    return out


def check_no_host_chown(label, lines):
    for line in lines:
        if HOST_CHOWN.search(line) and not ENGINE_CHOWN.search(line):
            fail(f"{label}: `{line.strip().lstrip('#').strip()}` chowns a file on the host to a "
                 "container uid: a rootless engine maps that uid elsewhere (run make-secrets.sh, "
                 "which chowns inside the engine)")


def uri_parts(uri):
    """(user, password, hosts, replicaSet, authSource) of a mongodb:// URI."""
    u = urllib.parse.urlsplit(uri)
    query = urllib.parse.parse_qs(u.query)
    netloc = u.netloc
    user = password = None
    if "@" in netloc:
        cred, netloc = netloc.rsplit("@", 1)
        user, _, password = cred.partition(":")
        user, password = urllib.parse.unquote(user), urllib.parse.unquote(password)
    hosts = [h.rsplit(":", 1)[0] if ":" in h else h for h in netloc.split(",")]
    path_db = u.path.lstrip("/") or None
    auth_source = (query.get("authSource") or [path_db or "admin"])[0]
    return user, password, hosts, (query.get("replicaSet") or [None])[0], auth_source


# A stand-in for the MongoDB shell (mongosh): db, rs, fs, process.env and quit, enough
# for the health checks and the init script. It records what the script asked for.
JS_HARNESS = r"""
const realfs = require('fs');
const [code, envJson, filesJson, authJson] = process.argv.slice(1);
const env = JSON.parse(envJson), files = JSON.parse(filesJson);
const calls = [];
let authed = authJson !== 'true';
const fail = (codeName, msg) => { const e = new Error(msg); e.codeName = codeName; throw e; };
const need = () => { if (!authed) fail('Unauthorized', 'command requires authentication'); };
function database(name) {
  return {
    auth(user, pwd) {
      calls.push({auth: {db: name, user: user, pwd: pwd}});
      if (name === 'admin') authed = true;
      return {ok: 1};
    },
    createUser(spec) { need(); calls.push({createUser: {db: name, spec: spec}}); return {ok: 1}; },
    getSiblingDB(other) { return database(other); },
    hello() { return {isWritablePrimary: true}; },
  };
}
const rs = {
  status() { need(); fail('NotYetInitialized', 'no replset config has been received'); },
  initiate(config) { need(); calls.push({initiate: config}); return {ok: 1}; },
};
const fs = {
  readFileSync(path, ...rest) { return realfs.readFileSync(files[path] || path, ...rest); },
};
class Quit { constructor(code) { this.code = code; } }
let fn, exit = 0, error = null;
try {
  fn = new Function('db', 'rs', 'fs', 'process', 'quit', 'print', 'printjson', code);
} catch (e) {
  process.stdout.write(JSON.stringify({parse: String(e)}));
  process.exit(0);
}
try {
  fn(database('test'), rs, fs, {env: env}, (c) => { throw new Quit(c === undefined ? 0 : c); },
     () => {}, () => {});
} catch (e) {
  if (e instanceof Quit) {
    exit = e.code;
  } else {
    exit = 1;
    error = (e.codeName ? e.codeName + ': ' : '') + e.message;
  }
}
process.stdout.write(JSON.stringify({calls: calls, exit: exit, error: error}));
"""


def run_js(node, label, script, env, files, auth_required):
    """Run a mongosh script against the stand-in; None when it cannot be judged."""
    if not node:
        return None
    try:
        r = subprocess.run([node, "-e", JS_HARNESS, script, json.dumps(env), json.dumps(files),
                            "true" if auth_required else "false"],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        fail(f"{label}: cannot run node: {e}")
        return None
    try:
        out = json.loads(r.stdout)
    except ValueError:
        fail(f"{label}: node failed: {(r.stderr or r.stdout).strip()[-300:]}")
        return None
    if "parse" in out:
        fail(f"{label}: its JavaScript does not parse: {out['parse']}")
        return None
    return out


# ---- make-secrets.sh ---------------------------------------------------------------

def run_secrets_script(script, tmp):
    """Run make-secrets.sh without an engine; the directory it made, or None."""
    out = os.path.join(tmp, "secrets")
    try:
        r = subprocess.run(["sh", script, "--dir", out, "--engine", "none"],
                           input="placeholder-key\n", capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        fail(f"make-secrets.sh: cannot run: {e}")
        return None
    if r.returncode != 0:
        fail(f"make-secrets.sh --engine none exits {r.returncode}: {(r.stderr or r.stdout).strip()}")
        return None
    mode = os.stat(out).st_mode & 0o7777
    if mode != 0o700:
        fail(f"make-secrets.sh: the secrets directory has mode {mode:04o}, not 0700")
    for name in sorted(os.listdir(out)):
        mode = os.stat(os.path.join(out, name)).st_mode & 0o7777
        if mode & 0o077:
            fail(f"make-secrets.sh: secrets/{name} has mode {mode:04o}; group or others may read it")
    check_no_host_chown("make-secrets.sh", logical_lines(open(script, encoding="utf-8").read()))
    return out


# ---- compose files -----------------------------------------------------------------

class Compose:
    """One compose file, loaded, with what the checks share."""

    def __init__(self, label, path, base, made):
        self.label, self.path, self.base, self.made = label, path, base, made
        self.text = open(path, encoding="utf-8").read()
        self.doc = yaml.safe_load(self.text) or {}
        self.services = self.doc.get("services") or {}
        self.secret_defs = self.doc.get("secrets") or {}

    def mounts(self, name, quiet=False):
        """{container path: stand-in file} of the secrets service `name` mounts."""
        out = {}
        for s in self.services[name].get("secrets") or []:
            source = s if isinstance(s, str) else s.get("source")
            target = source if isinstance(s, str) else (s.get("target") or source)
            if not target.startswith("/"):
                target = SECRETS_DIR + target
            if source not in self.secret_defs:
                if not quiet:
                    fail(f"{self.label}: {name} uses undefined secret {source}")
                continue
            out[target] = None if quiet else self.standin(source)
        return out

    def standin(self, secret):
        """make-secrets.sh's file for a secret (None if it makes none)."""
        rel = os.path.normpath(str((self.secret_defs.get(secret) or {}).get("file", "")))
        if self.made is None:
            return None
        if os.path.dirname(rel) != "secrets":
            fail(f"{self.label}: secret {secret} is read from {rel}, not from secrets/ "
                 "(where make-secrets.sh writes)")
            return None
        path = os.path.join(self.made, os.path.basename(rel))
        if not os.path.isfile(path):
            fail(f"{self.label}: secret {secret} is read from {rel}, which make-secrets.sh does not make")
            return None
        return path

    def ticketsync_services(self):
        built = {str(s.get("image")) for s in self.services.values() if s.get("build")}
        return [n for n, s in self.services.items()
                if str(s.get("image", "")) in built or LOCAL_IMAGE.match(str(s.get("image", "")))]

    def config_file(self, name):
        """The /run/secrets/ path after -c in the service's command, or None."""
        args = as_list(self.services[name].get("command"))
        for i, a in enumerate(args[:-1]):
            if a in ("-c", "--config"):
                return args[i + 1]
        return None


def check_compose(c, node, daemon, ctl, secure, mongo_init):
    services = c.services
    for name in ("mongo", "ticketsync-init", "ticketsyncd"):
        if name not in services:
            fail(f"{c.label}: no service {name}")
    if any(n not in services for n in ("mongo", "ticketsync-init", "ticketsyncd")):
        return
    mongo, init, daemon_svc = services["mongo"], services["ticketsync-init"], services["ticketsyncd"]
    mounts = {n: c.mounts(n) for n in services}

    if not str(mongo.get("image", "")).startswith("mongo:"):
        fail(f"{c.label}: mongo image is {mongo.get('image')!r}, expected the official mongo image")
    cmd = as_list(mongo.get("command"))
    rs = arg_value(cmd, "--replSet")
    if rs is None:
        fail(f"{c.label}: mongo does not run with --replSet (change streams need a replica set)")
    check_oplog(c.label, cmd)
    test = as_list((mongo.get("healthcheck") or {}).get("test"))
    script = test[test.index("--eval") + 1] if "--eval" in test and test.index("--eval") + 1 < len(test) else ""
    if "rs.initiate" not in script:
        fail(f"{c.label}: the mongo health check does not initiate the replica set")
    elif rs is not None and f"_id: '{rs}'" not in script and f'_id: "{rs}"' not in script:
        fail(f"{c.label}: the health check initiates a set other than {rs}")

    # Locally built image: never pulled.
    local = c.ticketsync_services()
    for name in local:
        svc = services[name]
        if not svc.get("build") and svc.get("pull_policy") != "never":
            fail(f"{c.label}: {name} uses the locally built image {svc.get('image')} without build: or "
                 "pull_policy: never, so compose may try to pull it from a registry")
    # Hardening of every ticketsync container.
    for name in local:
        svc = services[name]
        if svc.get("read_only") is not True:
            fail(f"{c.label}: {name} lacks read_only: true")
        if "ALL" not in [str(x).upper() for x in svc.get("cap_drop") or []]:
            fail(f"{c.label}: {name} lacks cap_drop: [ALL]")
        opts = [str(x).replace("=", ":") for x in svc.get("security_opt") or []]
        if not any(o in ("no-new-privileges", "no-new-privileges:true") for o in opts):
            fail(f"{c.label}: {name} lacks security_opt: [\"no-new-privileges:true\"]")

    for name, svc in services.items():
        env = environment(svc)
        for k, v in env.items():
            if k.endswith("MONGODB_URI"):
                check_uri(f"{c.label}: {name} {k}", v, rs, inline=True)
            if re.search(r"(API_KEY|SECRET|PASSWORD)$", k) and v and not v.startswith("${"):
                fail(f"{c.label}: {name} sets {k} inline; use a *_FILE variable and a secret")
        for v in list(env.values()) + as_list(svc.get("command")):
            if v.startswith(SECRETS_DIR) and v not in mounts[name]:
                fail(f"{c.label}: {name} reads {v}, a secret it does not mount")

    if as_list(init.get("entrypoint"))[-1:] != ["/usr/bin/ticketsyncctl"]:
        fail(f"{c.label}: ticketsync-init's entrypoint is not /usr/bin/ticketsyncctl")
    if "init" not in as_list(init.get("command")):
        fail(f"{c.label}: ticketsync-init does not run `ticketsyncctl init`")
    elif ctl:
        check_ctl_args(f"{c.label}: ticketsync-init's command", ctl, as_list(init.get("command")))
    deps = daemon_svc.get("depends_on") or {}
    if not isinstance(deps, dict) or (deps.get("ticketsync-init") or {}).get("condition") != "service_completed_successfully":
        fail(f"{c.label}: ticketsyncd does not wait for ticketsync-init to complete successfully")
    if not isinstance(deps, dict) or (deps.get("mongo") or {}).get("condition") != "service_healthy":
        fail(f"{c.label}: ticketsyncd does not wait for mongo to be healthy")
    if ((init.get("depends_on") or {}).get("mongo") or {}).get("condition") != "service_healthy":
        fail(f"{c.label}: ticketsync-init does not wait for mongo to be healthy")

    built = [s for s in services.values() if isinstance(s.get("build"), dict)]
    for s in built:
        ctx = os.path.normpath(os.path.join(c.base, s["build"].get("context", ".")))
        df = os.path.join(ctx, s["build"].get("dockerfile", "Dockerfile"))
        if not os.path.isfile(df):
            fail(f"{c.label}: build Dockerfile {df} does not exist")
    if not built:
        fail(f"{c.label}: no service builds the ticketsync image")

    comments = [l for l in c.text.splitlines() if l.lstrip().startswith("#")]
    check_no_host_chown(c.label, comments)
    check_ctl_commands(c.label, "\n".join(comments), {c.label: c}, ctl, default=c.label)

    # The mongo image turns --auth on by itself when it creates a root user.
    auth = "--auth" in cmd or arg_value(cmd, "--keyFile") is not None or \
        bool(environment(mongo).get("MONGO_INITDB_ROOT_USERNAME"))
    root_user = root_password = None
    if secure:
        if "--auth" not in cmd:
            fail(f"{c.label}: mongo runs without --auth (access control)")
        keyfile = arg_value(cmd, "--keyFile")
        if keyfile is None:
            fail(f"{c.label}: mongo runs without --keyFile (internal authentication of the replica set)")
        elif keyfile not in mounts["mongo"]:
            fail(f"{c.label}: mongo's --keyFile {keyfile} is not a secret it mounts")
        elif mounts["mongo"][keyfile]:
            check_keyfile(c.label, mounts["mongo"][keyfile])
        env = environment(mongo)
        root_user = env.get("MONGO_INITDB_ROOT_USERNAME")
        pw_file = env.get("MONGO_INITDB_ROOT_PASSWORD_FILE")
        if not root_user or not pw_file:
            fail(f"{c.label}: mongo has no root user from MONGO_INITDB_ROOT_USERNAME and "
                 "MONGO_INITDB_ROOT_PASSWORD_FILE")
        elif mounts["mongo"].get(pw_file):
            root_password = open(mounts["mongo"][pw_file], encoding="utf-8").read().strip()
    else:
        header = []
        for line in c.text.splitlines():
            if not line.startswith("#") and line.strip():
                break
            header.append(line)
        header = "\n".join(header)
        if "evaluation" not in header.lower() or "compose.secure.yaml" not in header:
            fail(f"{c.label}: its leading comment does not say it is the evaluation variant, "
                 "without MongoDB access control, and point to compose.secure.yaml")

    check_healthcheck(c, node, script, rs, environment(mongo), mounts["mongo"], auth,
                      root_user, root_password)

    uris = {}
    for name in local:
        cfg = c.config_file(name)
        env = environment(services[name])
        if secure:
            if "TICKETSYNC_MONGODB_URI" in env:
                fail(f"{c.label}: {name} sets TICKETSYNC_MONGODB_URI, which overrides the -c file's "
                     "[mongodb] uri (and its credentials)")
            if cfg is None:
                fail(f"{c.label}: {name} takes no -c /run/secrets/... file with its MongoDB URI")
        if cfg and mounts[name].get(cfg):
            uri = ini_uri(c.label, name, mounts[name][cfg])
            if uri:
                uris[name] = uri
                check_uri(f"{c.label}: {name}'s -c file", uri, rs, inline=False)
    if secure:
        check_init_script(c, node, mongo_init, mounts["mongo"], uris)

    if daemon:
        check_daemon_config(c.label, daemon, daemon_svc, mounts["ticketsyncd"])


def check_oplog(label, cmd):
    for i, a in enumerate(cmd):
        p = cmd[i + 1] if a == "--setParameter" and i + 1 < len(cmd) else (
            a[len("--setParameter="):] if a.startswith("--setParameter=") else "")
        if p.startswith("oplogMinRetentionHours"):
            fail(f"{label}: --setParameter {p}: oplogMinRetentionHours is not a server parameter "
                 "(mongod refuses to start); use --oplogMinRetentionHours N")
    hours = arg_value(cmd, "--oplogMinRetentionHours")
    if hours is None:
        fail(f"{label}: mongo runs without --oplogMinRetentionHours (docs/OPERATIONS.md, "
             "\"Size the oplog window against the longest outage\")")
        return
    try:
        ok = float(hours) > 0
    except ValueError:
        ok = False
    if not ok:
        fail(f"{label}: --oplogMinRetentionHours {hours} is not a positive number of hours")


def check_uri(label, uri, rs, inline):
    user, password, hosts, replset, _ = uri_parts(uri)
    if rs is not None and replset != rs:
        fail(f"{label} does not name replica set {rs}")
    if "mongo" not in hosts:
        fail(f"{label} does not point at the mongo service")
    if inline and password:
        fail(f"{label} holds a password inline")
    if not inline and not (user and password):
        fail(f"{label}: its [mongodb] uri has no user and password")


def check_keyfile(label, path):
    mode = os.stat(path).st_mode & 0o7777
    key = "".join(open(path, encoding="utf-8").read().split())
    if mode & 0o077:
        fail(f"{label}: the key file's mode is {mode:04o}; mongod refuses one group or others may read")
    if not 6 <= len(key) <= 1024 or not KEYFILE_CHARS.match(key):
        fail(f"{label}: the key file does not hold 6 to 1024 base64 characters, as mongod requires")


def check_healthcheck(c, node, script, rs, env, files, auth, root_user, root_password):
    if not script or rs is None or (auth and (not root_user or root_password is None)):
        return  # already reported
    label = f"{c.label}: the mongo health check"
    out = run_js(node, label, script, env, files, auth)
    if out is None:
        return
    if out["exit"] != 0:
        fail(f"{label} fails against a fresh mongod{' with --auth' if auth else ''}: "
             f"{out['error'] or 'quit(' + str(out['exit']) + ')'}"
             f"{' (it must log in to admin first)' if auth else ''}")
        return
    calls = out["calls"]
    inits = [x["initiate"] for x in calls if "initiate" in x]
    want = f"mongo:27017"
    if not inits or inits[0].get("_id") != rs or [m.get("host") for m in inits[0].get("members", [])] != [want]:
        fail(f"{label} does not initiate replica set {rs} with the one member {want}: {inits}")
    if auth:
        logins = [x["auth"] for x in calls if "auth" in x]
        if not logins or logins[0]["db"] != "admin" or logins[0]["user"] != root_user \
                or (root_password is not None and logins[0]["pwd"] != root_password):
            fail(f"{label} does not log in to admin as the root user with its password file")


def ini_uri(label, name, path):
    cp = configparser.ConfigParser(interpolation=None)
    try:
        cp.read_string(open(path, encoding="utf-8").read())
        return cp.get("mongodb", "uri")
    except (configparser.Error, OSError) as e:
        fail(f"{label}: {name}'s -c file (from make-secrets.sh) has no [mongodb] uri: {e}")
        return None


def check_init_script(c, node, override, files, uris):
    mongo = c.services["mongo"]
    mounted = []
    for v in mongo.get("volumes") or []:
        spec = v if isinstance(v, str) else f"{v.get('source')}:{v.get('target')}"
        parts = spec.split(":")
        if len(parts) >= 2 and parts[1].startswith("/docker-entrypoint-initdb.d/") and parts[1].endswith(".js"):
            mounted.append(os.path.normpath(os.path.join(c.base, parts[0])))
    if not mounted:
        fail(f"{c.label}: mongo mounts no .js into /docker-entrypoint-initdb.d/ to create ticketsync's user")
        return
    for m in mounted:
        if not os.path.isfile(m):
            fail(f"{c.label}: mongo mounts {m}, which does not exist")
            return
    path = override or mounted[0]
    js = path if override else os.path.relpath(path, c.base)
    label = f"{c.label}: {js}"
    out = run_js(node, label, open(path, encoding="utf-8").read(), environment(mongo), files, False)
    if out is None:
        return
    if out["exit"] != 0:
        fail(f"{label} fails: {out['error']}")
        return
    users = [x["createUser"] for x in out["calls"] if "createUser" in x]
    databases = {environment(c.services[n]).get("TICKETSYNC_MONGODB_DATABASE", "extrahop")
                 for n in c.ticketsync_services()}
    if len(databases) != 1:
        fail(f"{c.label}: the ticketsync services use different databases: {sorted(databases)}")
        return
    database = databases.pop()
    if len(users) != 1:
        fail(f"{label} creates {len(users)} users, expected ticketsync's one")
        return
    u = users[0]
    roles = {(r.get("role"), r.get("db")) for r in u["spec"].get("roles", []) if isinstance(r, dict)}
    for role in ("readWrite", "dbAdmin"):
        if (role, database) not in roles:
            fail(f"{label} does not grant {role} on {database} (docs/OPERATIONS.md, \"MongoDB accounts\")")
    for name, uri in sorted(uris.items()):
        user, password, _, _, auth_source = uri_parts(uri)
        if user != u["spec"].get("user") or password != u["spec"].get("pwd"):
            fail(f"{c.label}: {name}'s -c file logs in as another user or password than {js} creates")
        if auth_source != u["db"]:
            fail(f"{c.label}: {name}'s -c file authenticates against {auth_source}, but the user is "
                 f"created in {u['db']} (authSource={u['db']})")


def check_daemon_config(label, daemon, svc, files):
    """ticketsyncd --check-config with the service's command and environment."""
    with tempfile.TemporaryDirectory() as tmp:
        def standin(v):
            if not v.startswith(SECRETS_DIR):
                return v
            if files.get(v):
                return files[v]
            # No file from make-secrets.sh (already reported): a placeholder key.
            f = os.path.join(tmp, os.path.basename(v))
            with open(os.open(f, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
                fh.write("placeholder-key\n")
            return f

        run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        # The test suite's MONGOC_DISABLE_SHM goes through: without it, libmongoc can
        # print a shared-memory warning at load time under many parallel tests, which
        # is about this machine, not about the service's environment.
        if "MONGOC_DISABLE_SHM" in os.environ:
            run_env["MONGOC_DISABLE_SHM"] = os.environ["MONGOC_DISABLE_SHM"]
        for k, v in environment(svc).items():
            v = standin(v)
            # ${VAR:?message} / ${VAR:-default}: a value the operator would supply.
            v = re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "https://extrahop.example.com", v)
            v = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", v)
            run_env[k] = v
        args = [standin(a) for a in as_list(svc.get("command"))]
        r = subprocess.run([daemon] + args + ["--check-config"], env=run_env, capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"{label}: ticketsyncd --check-config refuses the ticketsyncd command and environment: "
                 f"{(r.stderr or r.stdout).strip()}")
        elif "warn" in r.stderr.lower():
            fail(f"{label}: ticketsyncd --check-config warns about the environment: {r.stderr.strip()}")


def check_ctl_args(label, ctl, args):
    r = subprocess.run([ctl] + args + ["--help"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{label}: ticketsyncctl refuses `{' '.join(args)}`: "
             f"{(r.stderr or r.stdout).strip().splitlines()[0] if (r.stderr or r.stdout).strip() else r.returncode}")


def check_ctl_commands(label, text, composes, ctl, default):
    """Each `docker compose [-f F] run ... ticketsync-init ARGS` in text; the files used."""
    used = set()
    for m in RUN_CTL.finditer(text):
        files = re.findall(r"-f\s+(\S+)", m.group(1))
        fname = os.path.basename(files[-1]) if files else default
        shown = m.group(0).strip().lstrip("#$").strip()
        c = composes.get(fname)
        if c is None:
            fail(f"{label}: `{shown}` names an unknown compose file {fname}")
            continue
        used.add(fname)
        try:
            args = shlex.split(m.group(3).split(" #")[0])
        except ValueError as e:
            fail(f"{label}: `{shown}`: {e}")
            continue
        init = c.services.get("ticketsync-init") or {}
        if as_list(init.get("entrypoint"))[-1:] != ["/usr/bin/ticketsyncctl"]:
            fail(f"{label}: `{shown}`: ticketsync-init in {fname} does not run ticketsyncctl")
            continue
        cfg = c.config_file("ticketsync-init") if "ticketsync-init" in c.services else None
        if cfg and cfg not in args:
            fail(f"{label}: `{shown}` replaces ticketsync-init's command without -c {cfg}, "
                 "the file with the MongoDB credentials")
        given = arg_value(args, "-c") or arg_value(args, "--config")
        if given and given not in c.mounts("ticketsync-init", quiet=True):
            fail(f"{label}: `{shown}` gives -c {given}, which ticketsync-init does not mount")
        if not args:
            fail(f"{label}: `{shown}` gives ticketsyncctl no command")
        elif ctl:
            check_ctl_args(f"{label}: `{shown}`", ctl, args)
    return used


def check_readme(path, composes, ctl):
    text = open(path, encoding="utf-8").read()
    for fname in composes:
        if fname not in text:
            fail(f"README.md does not say what {fname} is")
    used = check_ctl_commands("README.md", text, composes, ctl, default="compose.yaml")
    for fname in composes:
        if fname not in used:
            fail(f"README.md does not show how to run ticketsyncctl inside the compose network "
                 f"for {fname} (docker compose run --rm ticketsync-init ...)")
    check_no_host_chown("README.md", logical_lines(text))


def main():
    ap = argparse.ArgumentParser(description="Static checks of the container files (see the "
                                 "module docstring for the list).")
    ap.add_argument("--dockerfile", default=os.path.join(HERE, "Dockerfile"))
    ap.add_argument("--compose", default=os.path.join(HERE, "compose.yaml"),
                    help="the evaluation variant (default: %(default)s)")
    ap.add_argument("--compose-secure", default=os.path.join(HERE, "compose.secure.yaml"),
                    help="the secured variant (default: %(default)s)")
    ap.add_argument("--compose-dir", help="directory relative paths in the compose files start from "
                    "(default: each compose file's)")
    ap.add_argument("--readme", default=os.path.join(HERE, "README.md"))
    ap.add_argument("--secrets-script", default=os.path.join(HERE, "make-secrets.sh"))
    ap.add_argument("--mongo-init", help="the MongoDB init script to run instead of the one "
                    "compose.secure.yaml mounts")
    ap.add_argument("--bootstrap", default=os.path.join(ROOT, "scripts", "bootstrap.sh"))
    ap.add_argument("--binary", action="append", default=[],
                    help="built binary whose libraries the runtime stage must provide (repeatable)")
    ap.add_argument("--daemon", help="ticketsyncd to run --check-config with the compose environment")
    ap.add_argument("--ctl", help="ticketsyncctl, to check the ticketsyncctl commands shown and run")
    ap.add_argument("--node", help="node, to run the MongoDB shell scripts against a stand-in")
    a = ap.parse_args()

    check_dockerfile(a.dockerfile, a.bootstrap, a.binary)
    with tempfile.TemporaryDirectory() as tmp:
        made = run_secrets_script(a.secrets_script, tmp)
        composes = {}
        for label, path, secure in (("compose.yaml", a.compose, False),
                                    ("compose.secure.yaml", a.compose_secure, True)):
            base = a.compose_dir or os.path.dirname(os.path.abspath(path))
            try:
                c = Compose(label, path, base, made)
            except (OSError, yaml.YAMLError) as e:
                fail(f"{label}: cannot be read as YAML: {e}")
                continue
            composes[label] = c
            check_compose(c, a.node, a.daemon, a.ctl, secure, a.mongo_init)
        names = [c.doc.get("name") for c in composes.values()]
        if len(composes) == 2 and (None in names or names[0] == names[1]):
            fail(f"compose.yaml and compose.secure.yaml need their own project names (name: {names}): "
                 "with one, the secured variant starts on the evaluation variant's mongo-data volume, "
                 "a database without users")
        if len(composes) == 2:
            check_readme(a.readme, composes, a.ctl)
    for f in failures:
        print(f"check.py: {f}")
    if not failures:
        print("check.py: the container files pass the static checks")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
