#!/usr/bin/env python3
"""Reports file-level import cycles inside each crate of the workspace.

A file `a.rs` depends on `b.rs` of the same crate when its code (not its comments, not its
`#[cfg(test)]` module) names `crate::b` (or `super::b` from a submodule folder). The script prints every strongly connected
component with more than one file and exits non-zero if there is any.
Usage: python3 scripts/import_cycles.py [ROOT]
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
crates = [d for d in sorted(os.listdir(root)) if d.startswith("hetal-") and os.path.isdir(os.path.join(root, d, "src"))]


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts)


def strip_comments(text):
    # Test modules (by convention at the end of a file) may use anything of the crate.
    text = text.split("#[cfg(test)]", 1)[0]
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def deps(text, me, modules):
    out = set()
    body = strip_comments(text)
    # `use crate::{a, b::c}` groups and plain paths
    for m in re.finditer(r"crate::\{([^}]*)\}", body):
        for item in m.group(1).split(","):
            name = item.strip().split("::")[0]
            if name:
                out.add(name)
    for m in re.finditer(r"crate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)", body):
        out.add(m.group(1))
    parent = me.rsplit("::", 1)[0] if "::" in me else ""
    for m in re.finditer(r"super::([a-z_][a-z0-9_]*)", body):
        out.add((parent + "::" if parent else "") + m.group(1) if me.count("::") >= 1 else m.group(1))
    resolved = set()
    for d in out:
        parts = d.split("::")
        for k in range(len(parts), 0, -1):
            cand = "::".join(parts[:k])
            if cand in modules:
                if cand != me and not me.startswith(cand + "::") and cand != "":
                    resolved.add(cand)
                break
    return resolved


def sccs(graph):
    index, low, stack, on, res, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
            res.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return res


bad = 0
for crate in crates:
    src = os.path.join(root, crate, "src")
    files = {}
    for dirpath, _, names in os.walk(src):
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(dirpath, n)
                files[module_of(src, p)] = p
    modules = set(files)
    graph = {m: deps(open(files[m]).read(), m, modules) - {""} for m in modules if m != ""}
    for m in graph:
        graph[m] = {d for d in graph[m] if d in graph}
    cycles = [sorted(c) for c in sccs(graph) if len(c) > 1]
    for c in cycles:
        bad += 1
        print(f"{crate}: import cycle between {', '.join(c)}")
    print(f"{crate}: {len(graph)} files, {sum(len(v) for v in graph.values())} file-level imports, {len(cycles)} cycles")
sys.exit(1 if bad else 0)
