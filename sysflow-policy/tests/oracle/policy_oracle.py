#!/usr/bin/env python3
"""Independent oracle for sysflow-policy/tests/policy/traces.rs: which records of the shared traces each
checked rule matches.

How the expected sets in sysflow-policy/tests/policy/traces.rs were derived (run with the SysFlow venv,
which has fastavro):

    /opt/sfvenv/bin/python sysflow-policy/tests/oracle/policy_oracle.py [/work/shared]

1. Every trace of ../shared/traces is read with fastavro (not with our Avro reader), and every
   record counts for the index (headers and entities included): index = 0-based position in
   the file, the same numbering as `FlatRecord::index`. (sysprint prints only events and flows
   and skips entities, so its line numbers are not record indices.)
2. Entity tables are rebuilt here as docs/compatibility.md describes them: a header resets
   them; the latest Process record of an OID wins; ancestry = self, parent, grandparent, ...
   through the POIDs currently in the table; file/newfile by FOID; container by the process's
   container id; legacy layouts (4/7-member unions) mapped as the reader documents.
3. Attribute values follow docs/compatibility.md (e.g. `sf.container.type` is "host" for a
   process outside any container, exe/args/paths/names are trimmed, `sf.proc.cmdline` has no
   trailing space, missing entities give "missing" which fails every comparison and `exists`).
4. Each rule condition is translated BY HAND into a Python predicate below, following
   docs/policy-language.md (any-part semantics on lists, `pmatch` = substring of any item,
   `!=` = not `=`, macros and lists as defined in the rule files; when a name is defined twice
   in the runtimeintegrity directory the later file, ttps.yaml, wins). Runtimeintegrity rules
   are run with the directory's global filter (`not _whitelist`, globals.yaml): a record the
   filter drops matches nothing.
5. The printed sets were pasted into sysflow-policy/tests/policy/traces.rs. They were NOT taken from the
   engine; where the engine disagreed, docs/policy-language.md decided who was wrong.
"""

import glob
import json
import os
import sys

import fastavro
import fastavro.read

# tcp.sf declares a timestamp-millis logical type on a nanosecond field; read plain longs.
for k in list(fastavro.read.LOGICAL_READERS):
    del fastavro.read.LOGICAL_READERS[k]

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
RUST = "--rust" in sys.argv
SHARED = ARGS[0] if ARGS else os.environ.get(
    "SYSFLOW_SHARED", os.path.join(os.path.dirname(__file__), "../../../shared"))

# ---------------------------------------------------------------------------- flags (spec §2)
OPS = [  # (bit value, name, name on NF)
    (1 << 15, "MKDIR", None), (1 << 16, "RMDIR", None), (1 << 17, "LINK", None),
    (1 << 19, "SYMLINK", None), (1 << 18, "UNLINK", None), (1 << 20, "RENAME", None),
    (1, "CLONE", None), (2, "EXEC", None), (4, "EXIT", None), (8, "SETUID", None),
    (128, "OPEN", None), (32, "ACCEPT", None), (64, "CONNECT", None), (1024, "CLOSE", None),
    (512, "WRITE", "SEND"), (256, "READ", "RECV"), (16, "SETNS", None), (8192, "MMAP", None),
    (4096, "SHUTDOWN", None), (2048, "TRUNCATE", None), (16384, "DIGEST", None),
]
OPEN_FLAGS = [(1, "RDONLY"), (2, "WRONLY"), (4, "CREAT"), (32, "EXCL"), (256, "TRUNC"),
              (8, "APPEND"), (64, "NONBLOCK"), (16, "DSYNC"), (512, "DIRECT"),
              (2048, "LARGEFILE"), (1024, "DIRECTORY"), (4096, "CLOEXEC"), (128, "SYNC")]


def op_names(v, rtype):
    out = []
    for bit, name, nf in OPS:
        if v & bit:
            out.append(nf if (rtype in ("NF", "NE") and nf) else name)
    return out


def open_names(v):
    if v == 0:
        return ["NONE"]
    out = [n for b, n in OPEN_FLAGS if v & b]
    if v & 3 == 3:
        out.append("RDWR")
    return out


# ---------------------------------------------------------------------------- reading
SHORT = {"SFHeader": "H", "Container": "C", "Process": "P", "File": "F", "Pod": "POD",
         "ProcessEvent": "PE", "NetworkFlow": "NF", "FileFlow": "FF", "FileEvent": "FE",
         "NetworkEvent": "NE", "ProcessFlow": "PF", "K8sEvent": "KE"}
EVT_TYPE = {"CLONE": 1, "EXEC": 2, "EXIT": 4}


def read_trace(path):
    """Yields (type code, record dict) in file order, legacy layouts normalised."""
    with open(path, "rb") as fh:
        for rec in fastavro.reader(fh, return_record_name=True, return_record_name_override=True):
            name, body = rec["rec"]
            t = SHORT[name.split(".")[-1]]
            if t == "PF" and "args" in body:  # legacy process event named ProcessFlow
                t = "PE"
                if "type" in body:  # 4-member: EventType symbol instead of opFlags
                    body["opFlags"] = EVT_TYPE.get(body["type"], 0)
            yield t, body


def oid_key(o):
    return None if o is None else (o["hpid"], o["createTS"])


class Tables:
    def __init__(self):
        self.reset()

    def reset(self):
        self.procs, self.files, self.conts, self.pods = {}, {}, {}, {}


def basename(p):
    p = p.strip()
    if not p:
        return ""
    t = p.rstrip("/")
    if not t:
        return "/"
    return t.rsplit("/", 1)[-1]


def dirname(p):
    p = p.strip()
    if not p:
        return ""
    if "/" not in p:
        return "."
    d = p.rsplit("/", 1)[0].rstrip("/")
    return d or "/"


def cmdline(p):
    exe, args = p["exe"].strip(), p["exeArgs"].strip()
    return exe + " " + args if args else exe


class Rec:
    """One flat record: the event/flow with its entities joined (as docs/compatibility.md)."""

    def __init__(self, index, t, body, tabs, header):
        self.index, self.t, self.r = index, t, body
        self.header = header
        self.proc = self.pproc = self.file = self.newfile = self.cont = None
        self.anc = []
        if t == "KE":
            return
        key = oid_key(body.get("procOID"))
        self.proc = tabs.procs.get(key)
        seen = set()
        p = self.proc
        while p is not None and oid_key(p["oid"]) not in seen:
            seen.add(oid_key(p["oid"]))
            self.anc.append(p)
            p = tabs.procs.get(oid_key(p.get("poid")))
        if self.proc is not None:
            self.pproc = tabs.procs.get(oid_key(self.proc.get("poid")))
            cid = self.proc.get("containerId")
            if cid:
                self.cont = tabs.conts.get(cid)
        if t in ("FF", "FE"):
            self.file = tabs.files.get(bytes(body["fileOID"]))
        if t == "FE" and body.get("newFileOID") is not None:
            self.newfile = tabs.files.get(bytes(body["newFileOID"]))

    # --- attributes; None = missing
    @property
    def opflags(self):
        return op_names(self.r.get("opFlags", 0), self.t) if self.t != "KE" else None

    def p(self, f):
        return None if self.proc is None else f(self.proc)

    def pp(self, f):
        return None if self.pproc is None else f(self.pproc)

    exe = property(lambda s: s.p(lambda p: p["exe"].strip()))
    name = property(lambda s: s.p(lambda p: basename(p["exe"])))
    args = property(lambda s: s.p(lambda p: p["exeArgs"].strip()))
    cmdline = property(lambda s: s.p(cmdline))
    uid = property(lambda s: s.p(lambda p: p["uid"]))
    tty = property(lambda s: s.p(lambda p: bool(p.get("tty", False))))
    aname = property(lambda s: [basename(p["exe"]) for p in s.anc])
    pexe = property(lambda s: s.pp(lambda p: p["exe"].strip()))
    pname = property(lambda s: s.pp(lambda p: basename(p["exe"])))
    pcmdline = property(lambda s: s.pp(cmdline))
    puid = property(lambda s: s.pp(lambda p: p["uid"]))

    @property
    def ppid(self):
        if self.proc is None or self.proc.get("poid") is None:
            return None
        return self.proc["poid"]["hpid"]

    @property
    def cname(self):
        return None if self.cont is None else self.cont["name"].strip()

    @property
    def ctype(self):
        if self.cont is not None:
            return self.cont["type"].replace("CT_", "")
        if self.proc is not None and not self.proc.get("containerId"):
            return "host"
        return None

    def _path(self, f):
        if f is None:
            return None
        p = f["path"].strip()
        # collector's unix socket form "aaaa->bbbb /path"
        head, _, tail = p.partition(" ")
        if "->" in head and tail.strip():
            return tail.strip()
        return p

    path = property(lambda s: s._path(s.file))
    newpath = property(lambda s: s._path(s.newfile))
    directory = property(lambda s: None if s.path is None else dirname(s.path))

    @property
    def ftype(self):
        return None if self.file is None else chr(self.file["restype"])

    @property
    def openflags(self):
        return open_names(self.r.get("openFlags", 0)) if self.t == "FF" else None

    @property
    def is_open_read(self):
        if self.t != "FF":
            return None
        f = self.r.get("openFlags", 0)
        return f & 3 == 3 or f & 1 == 1


def load(path):
    """Flat records (events, flows, KE) of one trace."""
    tabs, header, out = Tables(), None, []
    for i, (t, body) in enumerate(read_trace(path)):
        if t == "H":
            tabs.reset()
            header = body
        elif t == "C":
            tabs.conts[body["id"]] = body
        elif t == "POD":
            tabs.pods[body["id"]] = body
        elif t == "P":
            tabs.procs[oid_key(body["oid"])] = body
        elif t == "F":
            tabs.files[bytes(body["oid"])] = body
        else:
            out.append(Rec(i, t, body, tabs, header))
    return out


# ---------------------------------------------------------------------------- operators
def parts(v):
    if v is None:
        return []
    if isinstance(v, list):
        return v
    if isinstance(v, bool):
        return ["true" if v else "false"]
    return [str(v)]


def eq(v, lit):
    return any(p == lit for p in parts(v))


def ne(v, lit):
    return not eq(v, lit)


def contains(v, s):
    return any(s in p for p in parts(v))


def icontains(v, s):
    return any(s.lower() in p.lower() for p in parts(v))


def startswith(v, s):
    return any(p.startswith(s) for p in parts(v))


def endswith(v, s):
    return any(p.endswith(s) for p in parts(v))


def in_(v, items):
    return any(p in items for p in parts(v))


def pmatch(v, items):
    return any(i in p for p in parts(v) for i in items)


def exists(v):
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v != 0
    return len(v) > 0


def num(v, op, n):
    if v is None or isinstance(v, list):
        return False
    return op(int(v), n)


def pair_eq(a, b):
    return any(x == y for x in parts(a) for y in parts(b))


# ---------------------------------------------------------------------------- unit_test rules
def node(r):
    return contains(r.cname, "node")


BINARIES = ["/usr/bin/python", "bash"]

UNIT = {
    "unit_test_contains.yaml": {
        "Contains rule": lambda r: node(r) and contains(r.exe, "/usr/bin/python"),
        "iContains rule": lambda r: node(r) and icontains(r.exe, "/usr/bin/python"),
    },
    "unit_test_eq.yaml": {
        "Eq rule": lambda r: node(r) and eq(r.exe, "/usr/bin/python")
        and r.r.get("ts") == 1548965940603299403,
    },
    # sf.is_open_write is not an attribute: the rule is skipped (no set).
    "unit_test_fileflow.yaml": {},
    "unit_test_ge.yaml": {
        "Ge rule": lambda r: node(r) and eq(r.exe, "/usr/bin/python")
        and r.r["ts"] >= 1548965940603299403,
    },
    "unit_test_gt.yaml": {
        "Gt rule": lambda r: node(r) and eq(r.exe, "/usr/bin/python")
        and r.r["ts"] > 1548965940603299403,
    },
    "unit_test_in.yaml": {
        "In rule": lambda r: node(r) and r.t == "PE"
        and in_(r.exe, BINARIES + ["/bin/node"]) and startswith(r.args, "cos-write.py"),
    },
    "unit_test_le.yaml": {
        "Le rule": lambda r: node(r) and r.t == "NF" and eq(r.exe, "/usr/bin/python")
        and r.r["ts"] <= 1548965940603299403,
    },
    "unit_test_logic.yaml": {
        name: (lambda r: node(r) and r.t == "PE"
               and (eq(r.exe, "/usr/bin/python") or startswith(r.args, "cos-write.py"))
               and (in_(r.exe, BINARIES) or pmatch(r.exe, BINARIES))
               and in_(r.exe, BINARIES)
               and startswith(r.args, "cos-write.py")
               and (in_(r.exe, BINARIES)
                    and (eq(r.exe, "/usr/bin/python") or startswith(r.args, "cos-write.py"))))
        for name in ("Logic rule", "Pars rule")
    },
    "unit_test_lt.yaml": {
        "Lt rule": lambda r: node(r) and r.t == "FF" and eq(r.exe, "/usr/bin/python")
        and r.r["ts"] < 1548965940603299403,
    },
    # sf.state is not an attribute: the rule is skipped.
    "unit_test_macro.yaml": {},
    "unit_test_networkflow.yaml": {
        "Network Flows on specific port": lambda r: node(r) and r.t == "NF"
        and contains(r.exe, "python"),
    },
    "unit_test_pmatch.yaml": {
        "Pmatch rule": lambda r: node(r) and r.t == "PE"
        and pmatch(r.exe, ["python", "bash", "/bin/node"]) and startswith(r.args, "cos-write.py"),
    },
    "unit_test_sfmap.yaml": {"Sf map rule": lambda r: eq(r.name, "python")},
    "unit_test_simple.yaml": {
        **{f"Simple rule {i}": (lambda r: node(r) and r.t == "PE" and contains(r.exe, "python"))
           for i in (1, 2, 3)},
        **{f"Simple rule {i}": (lambda r: node(r) and r.t == "PE" and eq(r.exe, "/usr/bin/python"))
           for i in (4, 5, 6)},
    },
    "unit_test_startswith.yaml": {
        "Startswith rule": lambda r: node(r) and startswith(r.args, "cos-write.py"),
    },
    "unit_test_unary.yaml": {"Exists rule": lambda r: node(r) and exists(r.pname)},
}

# ---------------------------------------------------------------------------- runtimeintegrity
# Lists (ttps.yaml versions where both files define them).
SHELL = ["bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash"]
COMPILERS = ["g++", "gcc", "clang", "javac"]
SHELL_INTERP = ["awk", "gawk"]
COREUTILS = """truncate sha1sum numfmt fmt fold uniq cut who groups csplit sort expand printf
printenv unlink tee chcon stat basename split nice yes whoami sha224sum hostid users stdbuf
base64 unexpand cksum od paste nproc pathchk sha256sum wc test comm arch du factor sha512sum
md5sum tr runcon env dirname tsort join shuf install logname pinky nohup expr pr tty timeout
tail [ seq sha384sum nl head id mkfifo sum dircolors ptx shred tac link chroot vdir chown touch
ls dd uname true pwd date chgrp chmod mktemp cat mknod sync ln false rm mv cp echo readlink
sleep stty mkdir df dir rmdir""".split()
COREUTILS_MOD = """truncate who groups csplit expand printenv unlink chcon split whoami users
stdbuf unexpand paste runcon env install logname pinky nohup tty id mkfifo shred link chroot
chown touch dd chgrp chmod mktemp mknod ln rm mv cp rmdir""".split()
LOGIN = ["login", "systemd", '"(systemd)"', "systemd-logind", "su", "nologin", "faillog",
         "lastlog", "newgrp", "sg"]
SHADOWUTILS = """chage gpasswd lastlog newgrp sg adduser deluser chpasswd groupadd groupdel
addgroup delgroup groupmems groupmod grpck grpconv grpunconv newusers pwck pwconv pwunconv
useradd userdel usermod vigr vipw unix_chkpwd""".split()
# user_mgmt_binaries = [login_binaries, passwd_binaries (undefined: a literal), shadowutils]
USER_MGMT = LOGIN + ["passwd_binaries"] + SHADOWUTILS
HTTP_SERVERS = ["nginx", "httpd", "httpd-foregroun", "lighttpd", "apache", "apache2", "node"]
RPM = ["dnf", "rpm", "rpmkey", "yum", '"75-system-updat"', "rhsmcertd-worke", "subscription-ma",
       "repoquery", "rpmkeys", "rpmq", "yum-cron", "yum-config-mana", "yum-debug-dump",
       "abrt-action-sav", "rpmdb_stat", "microdnf", "rhn_check", "yumdb"]
DEB = ["dpkg", "dpkg-preconfigu", "dpkg-reconfigur", "dpkg-divert", "apt", "apt-get", "aptitude",
       "frontend", "preinst", "add-apt-reposit", "apt-auto-remova", "apt-key", "apt-listchanges",
       "unattended-upgr", "apt-add-reposit"]
PKG_MGMT = RPM + DEB + ["update-alternat", "gem", "pip", "pip3", "sane-utils.post",
                        "alternatives", "chef-client"]
SYS_PASSWORD_FILES = ["/etc/shadow", "/etc/passwd"]
SYSTEM_DIRS = ["/boot", "/lib", "/lib64", "/usr/lib", "/usr/local/lib", "/usr/local/sbin",
               "/usr/local/bin", "/root/.ssh", "/etc"]
HISTORY = [".bash_history", ".ash_history"]
PRIVILEGED = ["/usr/bin/sudo", "/usr/local/sbin/runc"]
AUTH = ["/opt/ibm/java/bin/keytool", "/bin/chown", "/bin/chmod", "/bin/bash"]
LOG_PATHS = ["/var/", "/tmp/nginx-ingress.private"]
DOWNLOADERS = ["wget", "curl"]
REMOTE_COPY = ["scp", "rsync", "telnet", "ssh", "ftp", "rcp", "sftp"]
KNOWN_ROOT_FILES = """/root/.monit.state /root/.auth_tokens /root/.bash_history
/root/.ash_history /root/.aws/credentials /root/.viminfo.tmp /root/.lesshst /root/.bzr.log
/root/.gitconfig.lock /root/.babel.json /root/.localstack /root/.node_repl_history
/root/.mongorc.js /root/.dbshell /root/.augeas/history /root/.rnd /root/.wget-hsts""".split()
KNOWN_ROOT_DIRS = ["/root/.oracle_jre_usage", "/root/.subversion", "/root/.nami"]
KNOWN_ROOT_PREFIXES = """/root/orcexec. /root/.m2 /root/.npm /root/.pki /root/.ivy2
/root/.config/Cypress /root/.config/pulse /root/.config/configstore /root/jenkins/workspace
/root/.jenkins /root/.cache /root/.sbt /root/.java /root/.glide /root/.sonar /root/.v8flag
/root/infaagent /root/.local/lib/python /root/.pm2 /root/.gnupg /root/.pgpass /root/.theano
/root/.gradle /root/.android /root/.ansible /root/.crashlytics /root/.dbus /root/.composer
/root/.gconf /root/.nv /root/.local/share/jupyter /root/oradiag_root /root/workspace /root/jvm
/root/.node-gyp""".split()
DOCKER = ["docker", "dockerd", "exe", "docker-compose", "docker-entrypoi", "docker-runc-cur",
          "docker-current", "dockerd-current"]
K8S = ["hyperkube", "skydns", "kube2sky", "exechealthz", "weave-net"]
LXD = ["lxd", "lxcfs"]
ALLOWED_DEV = ["/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/random",
               "/dev/urandom", "/dev/console", "/dev/kmsg"]
DISCOVERY = ["cat", "strings", "nl", "head", "tail"]
NETCONFIG_DISCOVERY = ["firewall-cmd", "ufw", "iptables", "netstat", "ss", "ip", "ifconfig",
                       "systemd-resolve", "route"]
# globals.yaml
INFRA_CONTAINERS = ["syslog-configurator", "ibmcloud-object-storage-driver-container",
                    "ibmcloud-object-storage-plugin-container", "bes-relay", "vpn", "vpn-client",
                    "kube-auditlog-forwarder"]
WL_TOOLS = ["/crowdstrike/cmd.sh", "besclient", "BESClient", "logdna", "splunk", "rsyslog",
            "calico-node"]


def whitelist(r):
    heartbeat = (contains(r.pcmdline, "syslog-configurator") and contains(r.exe, "nsenter")
                 and icontains(r.args, "heartbeat"))
    init_proc = (startswith(r.exe, "/proc/self/fd/6") and in_(r.args, ["init"])
                 and pair_eq(r.exe, r.pexe))
    return (not in_(r.cname, INFRA_CONTAINERS)
            and not pmatch(r.aname, WL_TOOLS)
            and not pmatch(r.exe, WL_TOOLS)
            and not startswith(r.cmdline, "/usr/bin/dpkg --print-foreign-architectures")
            and not startswith(r.cmdline, "/usr/bin/apt-get --print-foreign-architectures")
            and not contains(r.args, "/sbin/ldconfig -p")
            and not heartbeat
            and not init_proc)


def open_write(r):
    sed_write = contains(r.exe, "sed") and contains(r.args, "-i")
    return (in_(r.opflags, ["WRITE", "SEND"])
            or (eq(r.opflags, "OPEN") and in_(r.openflags, ["CREAT"]))
            or sed_write)


def open_read(r):
    return eq(r.is_open_read, "true") or in_(r.opflags, ["READ", "RECV"])


def interactive(r):
    return ((eq(r.aname, "sshd") and ne(r.name, "sshd")) or eq(r.name, "systemd-logind")
            or eq(r.name, "login") or eq(r.tty, "true"))


def entrypoint(r):
    return not exists(r.ppid)


def container(r):
    return ne(r.ctype, "host")


def tomcat(r):
    return (contains(r.pname, "java")
            and contains(r.pcmdline, "org.apache.catalina.startup.Bootstrap"))


def possibly_webserver(r):
    return pmatch(r.name, HTTP_SERVERS) or tomcat(r)


def sensitive_files(r):
    return startswith(r.path, "/etc") and in_(r.path, SYS_PASSWORD_FILES)


def java_package_installer(r):
    return ((eq(r.name, "java") and contains(r.cmdline, "sbt-launch.jar"))
            or eq(r.name, "mvn"))


def exec_(r):
    return eq(r.opflags, "EXEC")


RI = {
    # ttps.yaml (replaces runtimeintegrity.yaml's), prefilter PE
    "Suspicious process spawned": lambda r: r.t == "PE" and exec_(r)
    and not pair_eq(r.exe, r.pexe)
    and not (in_(r.pexe, ["/usr/local/sbin/runc"]) or pmatch(r.exe, ["cgi-bin"]))
    and in_(r.name, SHELL + COMPILERS + ["pkg_mgmt_binaries"] + SHELL_INTERP + COREUTILS_MOD)
    and not entrypoint(r),
    "Downloader detected": lambda r: r.t == "PE" and exec_(r) and pmatch(r.name, DOWNLOADERS),
    "Remote copy program detected": lambda r: r.t == "PE" and exec_(r)
    and in_(r.name, REMOTE_COPY),
    # ttps.yaml: `java_package_installer` inside (...) is a literal, not the macro
    "Unauthorized installer detected": lambda r: r.t == "PE" and exec_(r)
    and pmatch(r.name, PKG_MGMT + ["java_package_installer"]) and container(r),
    "Linux and Mac File and Directory Permissions Modification": lambda r: r.t == "PE"
    and exec_(r) and in_(r.name, ["chmod", "chown"]),
    "Interactive shell": lambda r: interactive(r) and not entrypoint(r),
    "Privilege escalation": lambda r: ne(r.puid, "0") and eq(r.uid, "0") and not entrypoint(r),
    "Untrusted read sensitive file": lambda r: sensitive_files(r) and open_read(r)
    and not in_(r.exe, PRIVILEGED) and not in_(r.exe, AUTH)
    and in_(r.name, COREUTILS + USER_MGMT) and not entrypoint(r),
    "Password file modified": lambda r: pmatch(r.path, SYS_PASSWORD_FILES) and open_write(r),
    "History file modified": lambda r: pmatch(r.path, HISTORY) and open_write(r),
    "Write below system dirs": lambda r: open_write(r)
    and (in_(r.directory, SYSTEM_DIRS)
         or (startswith(r.path, "/home") and contains(r.path, ".ssh")))
    and not in_(r.exe, PRIVILEGED),
    "Write below root": lambda r: (eq(r.directory, "/") or startswith(r.path, "/root"))
    and open_write(r) and not in_(r.path, KNOWN_ROOT_FILES)
    and not in_(r.directory, KNOWN_ROOT_DIRS)
    and not any(startswith(r.path, p) for p in KNOWN_ROOT_PREFIXES),
    # runtimeintegrity.yaml only, prefilter FF
    "Webserver writing file": lambda r: r.t == "FF" and eq(r.ftype, "f") and open_write(r)
    and possibly_webserver(r) and not pmatch(r.path, LOG_PATHS),
    # runtimeintegrity.yaml only, prefilter PE
    "Interactive login detected": lambda r: r.t == "PE" and interactive(r) and container(r),
    # runtimeintegrity.yaml only, prefilter PE
    "Interactive login to host system detected": lambda r: r.t == "PE" and interactive(r)
    and not container(r),
    # ttps.yaml (replaces runtimeintegrity.yaml's)
    "Change thread namespace": lambda r: eq(r.opflags, "SETNS")
    and not in_(r.aname, DOCKER + K8S + LXD) and not startswith(r.aname, "runc:")
    and not startswith(r.path, "/var/run/netns/cni"),
    # `dev_creation_binaries` is not a defined list: a literal
    "Create files below dev": lambda r: eq(r.directory, "/dev") and open_write(r)
    and not in_(r.name, ["dev_creation_binaries"]) and not in_(r.path, ALLOWED_DEV)
    and not startswith(r.path, "/dev/tty"),
    "Account Discovery: Local Account": lambda r: exec_(r) and in_(r.name, DISCOVERY)
    and in_(r.args, SYS_PASSWORD_FILES),
    "File and Directory Discovery": lambda r: exec_(r)
    and ((eq(r.name, "ls") and (endswith(r.args, "/home") or endswith(r.args, "/home/")
                                or contains(r.args, "-R")))
         or in_(r.name, ["mount", "df", "tree", "find"])),
    "Shell started by container entry point": lambda r: exec_(r) and container(r)
    and eq(r.pname, "node") and in_(r.name, SHELL),
    "System Network Configuration Discovery": lambda r: exec_(r)
    and ((in_(r.name, DISCOVERY) and pmatch(r.args, ["/etc/resolv.conf", "/etc/hosts"]))
         or in_(r.name, NETCONFIG_DISCOVERY)),
    # path.yaml, prefilter KE
    "New pod in namespace robot-shop": lambda r: r.t == "KE"
    and r.r["kind"] == "K8S_PODS" and r.r["action"] == "K8S_COMPONENT_ADDED"
    and ke_namespace(r) == "robot-shop",
}


def ke_namespace(r):
    try:
        return str(json.loads(r.r["message"])["items"][0]["namespace"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


# ---------------------------------------------------------------------------- main
def main():
    traces = sorted(glob.glob(os.path.join(SHARED, "traces", "*.sf")))
    flat = {os.path.basename(t): load(t) for t in traces}

    def sets(pred, filt=None):
        out = {}
        for t, recs in flat.items():
            hit = [r.index for r in recs if (filt is None or filt(r)) and pred(r)]
            if hit:
                out[t] = hit
        return out

    result = {"unit": {}, "runtimeintegrity": {}}
    for f, rules in UNIT.items():
        result["unit"][f] = {n: sets(p) for n, p in rules.items()}
    for n, p in RI.items():
        result["runtimeintegrity"][n] = sets(p, whitelist)
    if RUST:
        emit_rust(result)
    else:
        json.dump(result, sys.stdout, indent=1)
        print()


def rust_sets(rules, indent):
    pad = " " * indent
    out = []
    for name, per_trace in rules.items():
        out.append(f"{pad}(\n{pad}    {json.dumps(name)},\n{pad}    &[")
        for t, idx in per_trace.items():
            nums = ", ".join(str(i) for i in idx)
            out.append(f"{pad}        ({json.dumps(t)}, &[{nums}]),")
        out.append(f"{pad}    ],\n{pad}),")
    return "\n".join(out)


def emit_rust(result):
    print("// @generated by sysflow-policy/tests/oracle/policy_oracle.py --rust: do not edit by hand.")
    print("// rule -> [(trace, record indices)] as the oracle computed them.\n")
    print("const UNIT_EXPECTED: &[(&str, Expected<'static>)] = &[")
    for f, rules in result["unit"].items():
        print(f"    (\n        {json.dumps(f)},\n        &[")
        print(rust_sets(rules, 12))
        print("        ],\n    ),")
    print("];\n")
    print("const RI_EXPECTED: Expected<'static> = &[")
    print(rust_sets(result["runtimeintegrity"], 4))
    print("];")


if __name__ == "__main__":
    main()
