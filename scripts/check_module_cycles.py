#!/usr/bin/env python3
"""Check the module graph of every Rust crate under rust/: no import cycle between source files, and
no source file longer than MAX_LINES lines up to its #[cfg(test)] module.

An edge a -> b is a `crate::` or `super::` path in file a (outside items marked #[cfg(test)], and
outside comments and string literals) that names module file b or an item in it. A path through a
re-export of the crate root (`crate::Foo` where lib.rs says `pub use x::Foo`) counts as an edge to
the module that defines it: re-exports do not break a cycle.

Usage: scripts/check_module_cycles.py [CRATE_DIR ...]   (default: every rust/*/ with a src/)
Exit status 1 when a crate has a cycle or a file is too long.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MAX_LINES = 800


def strip_comments_and_strings(src: str) -> str:
    """Blank out comments, string and char literals (keeping newlines), so paths in them don't count."""
    out: list[str] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif (m := re.match(r'b?r(#*)"', src[i : i + 300])) and not (i and (src[i - 1].isalnum() or src[i - 1] == "_")):
            close = '"' + m.group(1)
            j = src.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "'":
            # a char literal ('a', '\n', '\u{1F600}') or a lifetime ('a)
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", src[i : i + 12])
            if m:
                out.append(" " * m.end())
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(src: str, open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(src)):
        if src[j] == "{":
            depth += 1
        elif src[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(src) - 1


def item_end(src: str, start: int) -> int:
    """End of the item starting at `start`: its `;` or its brace block, whichever comes first."""
    depth_paren = 0
    for j in range(start, len(src)):
        ch = src[j]
        if ch in "([":
            depth_paren += 1
        elif ch in ")]":
            depth_paren -= 1
        elif ch == ";" and depth_paren <= 0:
            return j
        elif ch == "{" and depth_paren <= 0:
            return matching_brace(src, j)
    return len(src) - 1


CFG_TEST = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]")


def strip_cfg_test(src: str) -> str:
    """Blank out every item marked #[cfg(test)] (a test module, a test-only function or use)."""
    while m := CFG_TEST.search(src):
        end = item_end(src, m.end())
        src = src[: m.start()] + re.sub(r"[^\n]", " ", src[m.start() : end + 1]) + src[end + 1 :]
    return src


def lines_before_tests(raw: str) -> int:
    m = re.search(r"^\s*#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]\s*\n\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", raw, re.M)
    text = raw if m is None else raw[: m.start()]
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def expand_use_tree(tree: str) -> list[list[str]]:
    """`a::{b, c::{d, e}}` -> [[a, b], [a, c, d], [a, c, e]] (globs dropped; callers strip `as` aliases)."""
    tree = re.sub(r"\s+", "", tree)

    def parse(s: str) -> list[list[str]]:
        brace = s.find("{")
        if brace < 0:
            return [[seg for seg in s.split("::") if seg and seg != "*"]]
        prefix = [seg for seg in s[:brace].split("::") if seg]
        inner = s[brace + 1 : s.rfind("}")]
        parts, depth, cur = [], 0, ""
        for ch in inner:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        parts.append(cur)
        result = []
        for p in parts:
            if not p:
                continue
            for sub in parse(p):
                result.append(prefix + [x for x in sub if x != "self"])
        return result

    return parse(tree)


class Crate:
    def __init__(self, root: Path):
        self.root = root
        self.src = root / "src"
        self.files: dict[tuple[str, ...], Path] = {}
        for f in sorted(self.src.rglob("*.rs")):
            rel = f.relative_to(self.src).with_suffix("")
            parts = tuple(rel.parts)
            if parts in (("lib",), ("main",)):
                if parts == ("main",) and (self.src / "lib.rs").exists():
                    continue  # the binary's own root; not a module of the library
                parts = ()
            elif parts[-1] == "mod":
                parts = parts[:-1]
            self.files[parts] = f
        self.reexports = self._root_reexports()

    def _root_reexports(self) -> dict[str, tuple[str, ...]]:
        root = self.files.get(())
        if root is None:
            return {}
        src = strip_cfg_test(strip_comments_and_strings(root.read_text()))
        out: dict[str, tuple[str, ...]] = {}
        for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", src):
            for path in expand_use_tree(re.sub(r"\s+as\s+\w+", "", m.group(1))):
                path = [p for p in path if p not in ("crate", "self")]
                if path:
                    out[path[-1]] = tuple(path[:-1])
        return out

    def module_of(self, segs: list[str]) -> tuple[str, ...] | None:
        """The longest prefix of `segs` that is a module file; through root re-exports."""
        best: tuple[str, ...] | None = None
        for k in range(len(segs), 0, -1):
            if tuple(segs[:k]) in self.files:
                best = tuple(segs[:k])
                break
        if best is None and segs and segs[0] in self.reexports:
            return self.module_of(list(self.reexports[segs[0]]) + segs[1:]) or ()
        return best if best is not None else ()

    def edges(self, mod: tuple[str, ...]) -> set[tuple[str, ...]]:
        path = self.files[mod]
        src = strip_cfg_test(strip_comments_and_strings(path.read_text()))
        # inline (non-test) modules: a `super::` inside one names this file itself
        inline = [(m.end() - 1, matching_brace(src, m.end() - 1)) for m in re.finditer(r"\bmod\s+\w+\s*\{", src)]
        paths: list[tuple[int, list[str]]] = []
        for m in re.finditer(r"\buse\s+((?:crate|super|self)\b[^;]*);", src):
            cleaned = re.sub(r"\s+as\s+\w+", "", m.group(1))
            for p in expand_use_tree(cleaned):
                paths.append((m.start(), p))
            src = src[: m.start()] + " " * (m.end() - m.start()) + src[m.end() :]
        for m in re.finditer(r"\b(?:crate|super)(?:\s*::\s*\w+)+", src):
            paths.append((m.start(), [s.strip() for s in m.group(0).split("::")]))
        # A module's own children, named without `self::` (`use thread::engine_main;`), count
        # too: a parent using its child while the child uses the parent is a cycle all the same.
        children = set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", src, re.M))
        if children:
            alternatives = "|".join(sorted(children))
            for m in re.finditer(r"\buse\s+((?:" + alternatives + r")\s*::[^;]*);", src):
                for p in expand_use_tree(re.sub(r"\s+as\s+\w+", "", m.group(1))):
                    paths.append((m.start(), ["self"] + p))
            for m in re.finditer(r"(?<![\w:])(?:" + alternatives + r")(?:\s*::\s*\w+)+", src):
                paths.append((m.start(), ["self"] + [s.strip() for s in m.group(0).split("::")]))
        out: set[tuple[str, ...]] = set()
        for pos, segs in paths:
            depth_inline = sum(1 for a, b in inline if a < pos < b)
            if segs[0] == "crate":
                target = self.module_of(segs[1:])
            elif segs[0] in ("super", "self"):
                cur = list(mod)
                rest = segs
                while rest and rest[0] in ("super", "self"):
                    if rest[0] == "super":
                        if depth_inline:
                            depth_inline -= 1  # leaves an inline module: still this file
                        else:
                            cur = cur[:-1]
                    rest = rest[1:]
                target = self.module_of(cur + rest)
            else:
                continue
            if target is not None and target != mod and target in self.files:
                out.add(target)
        return out


def name(mod: tuple[str, ...]) -> str:
    return "/".join(mod) if mod else "(root)"


def cycles(graph: dict[tuple[str, ...], set[tuple[str, ...]]]) -> list[list[tuple[str, ...]]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on: set = set()
    out: list = []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
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
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def main(argv: list[str]) -> int:
    repo = Path(__file__).resolve().parent.parent
    crates = [Path(a) for a in argv]
    if not crates:
        crates = sorted(p for p in (repo / "rust").iterdir() if (p / "src").is_dir())
    failed = False
    for root in crates:
        crate = Crate(root)
        graph = {m: crate.edges(m) for m in crate.files}
        bad = cycles(graph)
        long = []
        for f in crate.files.values():
            n = lines_before_tests(f.read_text())
            if n > MAX_LINES:
                long.append((f.relative_to(root), n))
        status = "ok" if not bad and not long else "FAIL"
        print(
            f"{root.name}: {len(crate.files)} files, {sum(map(len, graph.values()))} edges, "
            f"{len(bad)} cycles, {len(long)} files over {MAX_LINES} lines: {status}"
        )
        for comp in bad:
            members = set(comp)
            print(f"  cycle: {', '.join(name(m) for m in comp)}")
            for a in comp:
                for b in sorted(graph[a] & members):
                    print(f"    {name(a)} -> {name(b)}")
        for f, n in long:
            print(f"  too long: {f}: {n} lines before #[cfg(test)]")
        failed |= bool(bad or long)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
