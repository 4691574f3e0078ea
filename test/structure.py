#!/usr/bin/env python3
"""The shape of src/: checks a newcomer can rely on (issue 19).

1. No cycle between files.  The file-level graph comes from the object
   files of a build (src/*.o): file A depends on file B when A calls a
   function B defines, or reads a variable B defines.  A function whose
   address A only takes (a callback handed over, or a table of function
   pointers) is no edge: the call then goes the other way, on purpose.
2. No function over 80 lines in src/*.c unless the comment above it says
   why, in a sentence starting with "Long:".

Prints what it finds and a last line for test/run; exits 1 on a finding.
Usage: test/structure.py [--graph] (from the top directory, after make).
"""
import collections
import glob
import os
import re
import subprocess
import sys

MAX_LINES = 80


def symbols(obj):
    """(defined: name -> nm type, undefined: set of names) of one object."""
    defined, undefined = {}, set()
    out = subprocess.run(["nm", obj], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRCG":
            defined[parts[2]] = parts[1]
    return defined, undefined


def calls(obj):
    """Names of symbols obj calls (call relocations in its code)."""
    out = subprocess.run(["readelf", "-rW", obj], check=True, capture_output=True,
                         text=True).stdout
    called, section = set(), ""
    for line in out.splitlines():
        m = re.match(r"Relocation section '([^']*)'", line)
        if m:
            section = m.group(1)
            continue
        parts = line.split()
        if section.startswith(".rela.text") and len(parts) >= 5 and \
                parts[2] in ("R_X86_64_PLT32", "R_AARCH64_CALL26", "R_AARCH64_JUMP26"):
            called.add(parts[4].split("@")[0])
    return called


def graph(objs):
    owner, kind, und, call = {}, {}, {}, {}
    for o in objs:
        f = os.path.basename(o)[:-2] + ".c"
        d, u = symbols(o)
        for s, t in d.items():
            owner[s], kind[s] = f, t
        und[f], call[f] = u, calls(o)
    g = collections.defaultdict(set)
    for f, syms in und.items():
        for s in syms:
            if s not in owner or owner[s] == f:
                continue
            if kind[s] == "T" and s not in call[f]:
                continue        # only its address is taken: a callback
            g[f].add(owner[s])
    return g


def cycles(g):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, found, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(set(g) | {w for ws in g.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def long_functions(path):
    """(name, first line, length) of functions over MAX_LINES without "Long:"."""
    lines = open(path, encoding="utf-8").read().split("\n")
    found = []
    for i, line in enumerate(lines):
        if line != "{" or i == 0:
            continue
        # PostgreSQL style: "name(args...)" starts at column 0 above the "{".
        j = i - 1
        while j > 0 and not re.match(r"[A-Za-z_]\w*\(", lines[j]):
            if lines[j] == "" or lines[j].startswith(("}", "#", "/*", " *")):
                j = -1
                break
            j -= 1
        if j <= 0 or not re.match(r"[A-Za-z_]\w*\(", lines[j]):
            continue
        name = lines[j].split("(")[0]
        end = i + 1
        while end < len(lines) and lines[end] != "}":
            end += 1
        start = j - 1 if j > 0 and re.match(r"[A-Za-z_]", lines[j - 1]) else j
        length = end - start + 1
        if length <= MAX_LINES:
            continue
        k, comment = start - 1, []
        while k >= 0 and lines[k].startswith(("/*", " *", " */")) or \
                (k >= 0 and lines[k].startswith("PG_FUNCTION_INFO_V1")):
            comment.append(lines[k])
            k -= 1
        if not re.search(r"\bLong:", "\n".join(comment)):
            found.append((name, start + 1, length))
    return found


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(top)
    objs = sorted(glob.glob("src/*.o"))
    if not objs:
        print("structure: no src/*.o (run make first)")
        return 1
    g = graph(objs)
    if "--graph" in sys.argv:
        for f in sorted(g):
            print(f, "->", " ".join(sorted(g[f])))
    bad = 0
    for comp in cycles(g):
        bad += 1
        edges = [f"{a} -> {b}" for a in comp for b in sorted(g[a]) if b in comp]
        print("cycle between " + ", ".join(comp) + ": " + "; ".join(edges))
    nlong = 0
    for path in sorted(glob.glob("src/*.c")):
        for name, line, length in long_functions(path):
            nlong += 1
            print(f"{path}:{line}: {name} is {length} lines, with no \"Long:\" reason above it")
    nedges = sum(len(v) for v in g.values())
    print(f"structure: {len(objs)} files, {nedges} dependencies, {bad} cycles; "
          f"{nlong} functions over {MAX_LINES} lines without a reason")
    return 1 if bad or nlong else 0


if __name__ == "__main__":
    sys.exit(main())
