#!/usr/bin/env python3
"""Independent oracle for sysflow-policy/tests/policy/sigma_traces.rs: which records of the
shared traces each of sf-processor's 51 Sigma rules (../shared/rulesets/sigma) and each rule
of tests/policy/sigma_fixtures/traces.yml (one per log source) matches, with the built-in
field mapping and with sf-processor's mapping file.

How the expected sets were derived (the SysFlow venv has fastavro; PyYAML from the system):

    PYTHONPATH=/usr/lib/python3/dist-packages /work/main/.venv/bin/python \\
        sysflow-policy/tests/oracle/sigma_oracle.py [/work/shared] --rust

1. Traces are read and flat records rebuilt by policy_oracle.py (fastavro, not our reader;
   entity tables as docs/compatibility.md describes; index = position in the file).
2. Rules are read with PyYAML (not our loader) and evaluated by the small Sigma interpreter
   below, written from the Sigma specification (rules, modifiers appendix), not from the
   engine: values are case-insensitive strings with `*`/`?` wildcards (translated to Python
   regular expressions), `contains`/`startswith`/`endswith` add wildcards, `all` AND-s a
   list, `re` is Python's `re.search` (case-sensitive); a map AND-s its items, a list of maps
   OR-s them; the condition is parsed by a recursive-descent parser here (or < and < not <
   `1 of`/`all of` < parentheses; `them` leaves out names starting with `_`).
3. Log sources (docs/sigma.md): `process_creation` is a process event with EXEC;
   `file_event` a file flow with WRITE or opened with CREAT; `file_delete` a file event
   UNLINK or RMDIR; `file_rename` a file event RENAME (SourceFilename its path,
   TargetFilename the new path; elsewhere TargetFilename is the path); `network_connection`
   a network flow (Initiated 'true' = CONNECT, 'false' = ACCEPT; DestinationPort and
   Protocol numbers, tcp = 6). sf-processor's mapping file maps TargetFilename to the path
   in every category. Keywords are substrings of the command line (and, for file
   records, of the path). Process fields: Image = exe,
   CommandLine = exe + " " + args, ParentImage/ParentCommandLine = the parent's (with the
   mapping file: every ancestor's, sf.proc.aexe/acmdline, self included), User = user
   name, CurrentDirectory = cwd, ProcessId/ParentProcessId = pids, LogonId = never present.
   A missing value matches nothing (a list value matches when any element does).
4. The printed sets are pasted into sigma_traces_expected.rs; they were NOT taken from the
   engine.
"""

import glob
import os
import re
import struct
import sys

sys.path.insert(0, os.path.dirname(__file__))
import policy_oracle as po  # noqa: E402  (trace reading and the flat records)

try:
    import yaml
except ImportError:
    sys.exit("PyYAML is needed: PYTHONPATH=/usr/lib/python3/dist-packages")

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
RUST = "--rust" in sys.argv
SHARED = ARGS[0] if ARGS else os.path.join(os.path.dirname(__file__), "../../../shared")


# ---------------------------------------------------------------------------- fields
def ip(v):
    b = struct.pack("<i", v)
    return ".".join(str(x) for x in b)


def field(name, rec, mapped, cat):
    """The value of a Sigma field on a flat record: a string, an int, a list, or None."""
    p = rec.proc
    if name == "TargetFilename":
        # sf-processor's mapping file maps it to sf.file.path in every category.
        return rec.newpath if cat == "file_rename" and not mapped else rec.path
    if name == "SourceFilename":
        return rec.path
    if name == "DestinationPort":
        return rec.r["dport"]
    if name == "DestinationIp":
        return ip(rec.r["dip"])
    if name == "Protocol":
        return rec.r["proto"]
    if name == "Initiated":
        ops = rec.opflags or []
        return "true" if "CONNECT" in ops else "false" if "ACCEPT" in ops else None
    if name == "Image":
        return rec.exe
    if name == "CommandLine":
        return rec.cmdline
    if name == "ParentImage":
        return [a["exe"].strip() for a in rec.anc] if mapped else rec.pexe
    if name == "ParentCommandLine":
        return [po.cmdline(a) for a in rec.anc] if mapped else rec.pcmdline
    if name == "User":
        return None if p is None else p["userName"]
    if name == "CurrentDirectory":
        return None if p is None else (p.get("cwd") or "").strip()
    if name == "ProcessId":
        return None if p is None else p["oid"]["hpid"]
    if name == "ParentProcessId":
        return rec.ppid
    if name == "LogonId":
        return None
    raise KeyError(name)


# ---------------------------------------------------------------------------- values
def pattern(value, mods):
    """A Sigma string (wildcards, escapes) with its modifiers, as a compiled regex."""
    if "re" in mods:
        return re.compile(value)
    out, i = "", 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out += re.escape(value[i + 1])
            i += 2
            continue
        out += {"*": ".*", "?": "."}.get(c, re.escape(c))
        i += 1
    if "contains" in mods:
        out = ".*" + out + ".*"
    elif "startswith" in mods:
        out = out + ".*"
    elif "endswith" in mods:
        out = ".*" + out
    return re.compile(out, re.IGNORECASE | re.DOTALL)


PROTOCOLS = {"tcp": "6", "udp": "17", "icmp": "1"}


def matches(v, value, mods):
    if v is None:
        return value is None
    if value is None:
        return False
    vals = v if isinstance(v, list) else [v]
    rx = pattern(str(value), mods)
    if "re" in mods:
        return any(rx.search(str(x)) for x in vals)
    return any(rx.fullmatch(str(x)) for x in vals)


def item(key, values, rec, mapped, cat):
    name, *mods = key.split("|")
    vals = values if isinstance(values, list) else [values]
    if name == "Protocol":
        vals = [PROTOCOLS.get(str(x).lower(), x) for x in vals]
    v = field(name, rec, mapped, cat)
    results = [matches(v, x, mods) for x in vals]
    return all(results) if "all" in mods else any(results)


def search(defn, rec, mapped, cat):
    if isinstance(defn, dict):
        return all(item(k, v, rec, mapped, cat) for k, v in defn.items())
    if isinstance(defn, list) and all(isinstance(d, dict) for d in defn):
        return any(search(d, rec, mapped, cat) for d in defn)
    # Keywords: a substring of the command line (or of a file record's paths).
    where = [rec.cmdline] + ([rec.path, rec.newpath] if cat.startswith("file") else [])
    return any(matches(w, k, ["contains"]) for k in defn for w in where if w is not None)


# ---------------------------------------------------------------------------- conditions
def tokens(text):
    return re.findall(r"\(|\)|[^\s()]+", text)


def parse(toks, names):
    """Recursive descent; returns a function of (name -> bool)."""
    pos = [0]

    def peek():
        return toks[pos[0]].lower() if pos[0] < len(toks) else None

    def take():
        pos[0] += 1
        return toks[pos[0] - 1]

    def p_or():
        terms = [p_and()]
        while peek() == "or":
            take()
            terms.append(p_and())
        return lambda env: any(t(env) for t in terms)

    def p_and():
        terms = [p_not()]
        while peek() == "and":
            take()
            terms.append(p_not())
        return lambda env: all(t(env) for t in terms)

    def p_not():
        if peek() == "not":
            take()
            inner = p_not()
            return lambda env: not inner(env)
        return p_prim()

    def p_prim():
        t = take()
        if t == "(":
            inner = p_or()
            assert take() == ")"
            return inner
        if peek() == "of":
            take()
            target = take()
            if target == "them":
                sel = [n for n in names if not n.startswith("_")]
            else:
                rx = re.compile("^" + re.escape(target).replace(r"\*", ".*") + "$")
                sel = [n for n in names if rx.match(n)]
            assert sel, target
            if t.lower() == "all":
                return lambda env: all(env[n] for n in sel)
            return lambda env: any(env[n] for n in sel)
        assert t in names, t
        return lambda env: env[t]

    f = p_or()
    assert pos[0] == len(toks)
    return f


class Rule:
    def __init__(self, doc):
        self.title, self.id = doc["title"], doc["id"]
        self.cat = doc["logsource"]["category"]
        det = dict(doc["detection"])
        cond = det.pop("condition")
        self.searches = det
        conds = cond if isinstance(cond, list) else [cond]
        self.conds = [parse(tokens(c), list(det)) for c in conds]

    def match(self, rec, mapped):
        if not SELECT[self.cat](rec):
            return False
        env = {n: search(d, rec, mapped, self.cat) for n, d in self.searches.items()}
        return any(c(env) for c in self.conds)


def ops(rec):
    return rec.opflags or []


SELECT = {
    "process_creation": lambda r: r.t == "PE" and "EXEC" in ops(r),
    "file_event": lambda r: r.t == "FF" and ("WRITE" in ops(r) or "CREAT" in (r.openflags or [])),
    "file_delete": lambda r: r.t == "FE" and ("UNLINK" in ops(r) or "RMDIR" in ops(r)),
    "file_rename": lambda r: r.t == "FE" and "RENAME" in ops(r),
    "network_connection": lambda r: r.t == "NF",
}


def main():
    rules = []
    files = sorted(glob.glob(os.path.join(SHARED, "rulesets/sigma/rules/**/*.yml"), recursive=True))
    files.append(os.path.join(os.path.dirname(__file__), "../policy/sigma_fixtures/traces.yml"))
    for f in files:
        with open(f) as fh:
            rules.extend(Rule(d) for d in yaml.safe_load_all(fh) if d)
    traces = sorted(glob.glob(os.path.join(SHARED, "traces/*.sf")))
    result = {}  # (mapped, id) -> {trace: [index]}
    for t in traces:
        recs = po.load(t)
        name = os.path.basename(t)
        for mapped in (False, True):
            for rule in rules:
                hits = [r.index for r in recs if rule.match(r, mapped)]
                if hits:
                    result.setdefault((mapped, rule.id), {})[name] = hits
    if not RUST:
        for (mapped, rid), per in sorted(result.items()):
            title = next(r.title for r in rules if r.id == rid)
            print(("config " if mapped else "builtin"), title, {k: len(v) for k, v in per.items()})
        return
    print("// @generated by sysflow-policy/tests/oracle/sigma_oracle.py --rust: do not edit by hand.")
    print("// (with the mapping file?, rule id) -> [(trace, record indices)] as the oracle computed them.")
    print()
    print("const SIGMA_EXPECTED: Expected = &[")
    for (mapped, rid), per in sorted(result.items()):
        print(f"    ({str(mapped).lower()}, \"{rid}\", &[")
        for trace, idx in sorted(per.items()):
            print(f"        (\"{trace}\", &{idx}),")
        print("    ]),")
    print("];")


if __name__ == "__main__":
    main()
