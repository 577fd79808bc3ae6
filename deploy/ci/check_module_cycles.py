#!/usr/bin/env python3
"""No import cycle between the modules of a library crate.

Reads every non-test `.rs` file under each crate's `src/`, turns every `crate::`, `super::` and
`self::` path (in `use` trees and inline) into an edge from the file's module to the deepest
module the path names, and fails on every strongly connected component of more than one
module, then again with every module folded into its top-level one (so `layers` and `stack`
importing each other through different files is a cycle too). A submodule naming its own ancestor (`use super::Value` in `json/parser.rs`) is part
of that ancestor, not a dependency, so such edges are left out; `#[cfg(test)]` modules and
`tests.rs` files are not read.

    python3 deploy/ci/check_module_cycles.py           # policy, proxy, proxy/sigv4
    python3 deploy/ci/check_module_cycles.py --edges   # also print every edge
"""
import re
import sys
from pathlib import Path

CRATES = ["policy/src", "proxy/src", "proxy/sigv4/src"]
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{")
PATH_START = re.compile(r"\b(crate|super|self)::")


def module_of(src: Path, file: Path):
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts in (["lib"], ["main"]):
        return ()
    if parts[-1] == "mod":
        parts = parts[:-1]
    return tuple(parts)


def strip_tests(text: str) -> str:
    """Drops `#[cfg(test)] mod x { ... }` blocks and comments."""
    text = re.sub(r"//[^\n]*", "", text)
    out, pos = [], 0
    for m in TEST_MOD.finditer(text):
        if m.start() < pos:
            continue
        out.append(text[pos : m.start()])
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        pos = i
    out.append(text[pos:])
    return "".join(out)


def expand(tree: str):
    """`a::{b, c::{d, e}}` → [[a, b], [a, c, d], [a, c, e]] (leaves may be `self` or `*`)."""
    tree = tree.replace(" ", "").replace("\n", "")
    depth, start, items = 0, 0, []
    for i, ch in enumerate(tree):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(tree[start:i])
            start = i + 1
    items.append(tree[start:])
    paths = []
    for item in filter(None, items):
        brace = item.find("{")
        if brace < 0:
            paths.append(item.split(" as ")[0].split("::"))
            continue
        prefix = [p for p in item[:brace].split("::") if p]
        for rest in expand(item[brace + 1 : item.rindex("}")]):
            paths.append(prefix + rest)
    return paths


def paths_in(text: str):
    for m in re.finditer(r"\buse\s+((?:crate|super|self)::[^;]*);", text):
        yield from expand(m.group(1))
    flat = re.sub(r"\buse\s+[^;]*;", "", text)
    for m in PATH_START.finditer(flat):
        segs = [m.group(1)]
        rest = re.match(rf"((?:{IDENT}::)*{IDENT})", flat[m.end() :])
        if rest:
            segs += rest.group(1).split("::")
        yield segs


def resolve(segs, here, modules):
    path = list(here)
    head, *rest = segs
    if head == "crate":
        path = []
    elif head == "super":
        path = path[:-1]
        while rest and rest[0] == "super":
            rest, path = rest[1:], path[:-1]
    elif head != "self":
        return None
    best = tuple(path) if tuple(path) in modules else None
    for seg in rest:
        path.append(seg)
        if tuple(path) in modules:
            best = tuple(path)
    return best


def cycles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    root = Path(__file__).resolve().parents[2]
    show = "--edges" in sys.argv
    failed = False
    for crate in CRATES:
        src = root / crate
        files = {
            module_of(src, f): f
            for f in src.rglob("*.rs")
            if f.name != "tests.rs" and "tests" not in f.relative_to(src).parts[:-1]
        }
        graph = {}
        for here, file in files.items():
            for segs in paths_in(strip_tests(file.read_text())):
                there = resolve(segs, here, files)
                if there is None or there == here or here[: len(there)] == there:
                    continue
                graph.setdefault(here, set()).add(there)
        if show:
            for a in sorted(graph):
                for b in sorted(graph[a]):
                    print(f"{crate}: {'::'.join(a) or 'lib'} -> {'::'.join(b) or 'lib'}")
        # The same graph with each module folded into its top-level module (`layers::x` into
        # `layers`): a file-level graph can be acyclic while two folders import each other.
        top = {}
        for a, bs in graph.items():
            for b in bs:
                if a[:1] != b[:1]:
                    top.setdefault(a[:1], set()).add(b[:1])
        found = cycles(graph) + [c for c in cycles(top) if c not in cycles(graph)]
        graph_all = {**graph}
        for a, bs in top.items():
            graph_all.setdefault(a, set()).update(bs)
        graph = graph_all
        edges = sum(len(v) for v in graph.values())
        for comp in found:
            failed = True
            names = ", ".join("::".join(m) or "lib" for m in comp)
            print(f"{crate}: import cycle between {names}")
            for a in comp:
                for b in sorted(graph.get(a, ())):
                    if b in comp:
                        print(f"    {'::'.join(a) or 'lib'} -> {'::'.join(b) or 'lib'}")
        if not found:
            print(f"{crate}: {len(files)} modules, {edges} edges, no import cycle")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
