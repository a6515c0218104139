#!/usr/bin/env python3
"""Lists the import circles between the files of a crate: who names what from where,
read from `use crate::...` and `crate::a::b` paths in code (not in comments). Prints each
strongly connected group of more than one file; exits 1 if there is one."""
import os, re, sys

def modules(src):
    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            if n.endswith('.rs'):
                path = os.path.join(root, n)
                rel = os.path.relpath(path, src)[:-3].split(os.sep)
                if rel[-1] in ('mod', 'lib'):
                    rel = rel[:-1]
                files['::'.join(rel)] = path
    return files

def deps(path, mods):
    text = open(path).read()
    text = re.sub(r'//[^\n]*', '', text)          # comments and doc comments
    text = text.split('#[cfg(test)]')[0]          # unit tests may look anywhere
    found = set()
    # expand `use crate::a::{b, c::d}` groups one level
    for m in re.finditer(r'crate::([\w:]+)(::\{([^}]*)\})?', text):
        base = m.group(1).rstrip(':')
        paths = [base]
        if m.group(3):
            paths = [base + '::' + p.strip().split(' ')[0] for p in m.group(3).split(',') if p.strip()]
        for p in paths:
            parts = p.split('::')
            while parts and '::'.join(parts) not in mods:
                parts.pop()
            if parts:
                found.add('::'.join(parts))
    return found

def sccs(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            out.append(comp)
    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out

# The one knot that types make: the user's traits name the `Ctx` a handler gets, `Ctx`
# hands out the actor's own `ActorRef`, an `ActorRef` is bounded by those traits, and the
# envelope it sends calls `Handler::handle` with a `Ctx`. (See ARCHITECTURE.md.)
ALLOWED = [{"actor", "ctx", "handle::actor_ref", "mailbox::envelope"}]

bad = 0
for src in sys.argv[1:]:
    mods = modules(src)
    graph = {}
    for name, path in mods.items():
        # a module's parent (lib.rs / mod.rs) declaring it is not an import
        graph[name] = {d for d in deps(path, mods) if d != name and d != ''}
    for comp in sccs(graph):
        if len(comp) > 1 and set(comp) not in ALLOWED:
            bad += 1
            print(f"{src}: circle: {' <-> '.join(sorted(comp))}")
sys.exit(1 if bad else 0)
