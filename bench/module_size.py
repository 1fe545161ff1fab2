#!/usr/bin/env python3
"""Where the module's bytes go: code size by crate and the largest functions.

Builds the release module without stripping (same profile otherwise, before
wasm-opt) into target/wasm-sizes and reads its name and code sections.

    bench/module_size.py [--top 25]
"""
import argparse
import collections
import os
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = ROOT / "target" / "wasm-sizes"


def build():
    env = dict(os.environ, CARGO_PROFILE_RELEASE_STRIP="false", CARGO_PROFILE_RELEASE_DEBUG="false",
               PATH="/usr/bin:" + os.environ["PATH"], RUSTC_BOOTSTRAP="1",
               RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none")
    command = ["/usr/bin/cargo", "build", "--release", "--quiet", "--target", "wasm32-unknown-unknown",
               "-Zbuild-std=std,panic_abort", "-Zbuild-std-features=optimize_for_size", "--target-dir", str(TARGET)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=900)
    return TARGET / "wasm32-unknown-unknown" / "release" / "mcp_policy_filter.wasm"


def leb(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def sections(data):
    pos = 8
    while pos < len(data):
        kind = data[pos]
        size, pos = leb(data, pos + 1)
        yield kind, data[pos:pos + size]
        pos += size


def demangle(name):
    """Rust legacy mangling (_ZN<len><seg>...E) to a path; others unchanged."""
    if not name.startswith("_ZN"):
        return name
    pos, parts = 3, []
    while pos < len(name) and name[pos].isdigit():
        match = re.match(r"\d+", name[pos:])
        length = int(match.group())
        pos += len(match.group())
        parts.append(name[pos:pos + length])
        pos += length
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    text = "::".join(parts)
    for code, char in (("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$RF$", "&"), ("$C$", ","),
                       ("$u7b$", "{"), ("$u7d$", "}"), ("..", "::"), ("$BP$", "*"), ("$u27$", "'")):
        text = text.replace(code, char)
    return text


def crate_of(name):
    if name.startswith("_R"):
        # Rust v0 mangling: the first crate root, C[s<disambiguator>_]<len><name>.
        match = re.search(r"C(?:s[0-9A-Za-z]*_)?(\d+)", name)
        if match:
            start = match.end()
            return name[start:start + int(match.group(1))]
    name = name.lstrip("_<&* ")
    if name.startswith("impl "):
        name = name[5:]
    head = re.split(r"::| as | for |[<>]", name)[0]
    return head or "?"


def analyse(path):
    data = path.read_bytes()
    imports = 0
    bodies, names = [], {}
    for kind, payload in sections(data):
        if kind == 2:  # imports: count function imports (they take indices first)
            count, pos = leb(payload, 0)
            for _ in range(count):
                for _ in range(2):
                    length, pos = leb(payload, pos)
                    pos += length
                import_kind = payload[pos]
                pos += 1
                if import_kind == 0:
                    _, pos = leb(payload, pos)
                    imports += 1
                elif import_kind == 1:
                    pos += 1
                    flags, pos = leb(payload, pos)
                    _, pos = leb(payload, pos)
                    if flags & 1:
                        _, pos = leb(payload, pos)
                elif import_kind == 2:
                    flags, pos = leb(payload, pos)
                    _, pos = leb(payload, pos)
                    if flags & 1:
                        _, pos = leb(payload, pos)
                else:
                    pos += 2
        elif kind == 10:  # code
            count, pos = leb(payload, 0)
            for _ in range(count):
                size, pos = leb(payload, pos)
                bodies.append(size)
                pos += size
        elif kind == 0:  # custom: the name section
            length, pos = leb(payload, 0)
            if payload[pos:pos + length] != b"name":
                continue
            pos += length
            while pos < len(payload):
                sub, pos = payload[pos], pos + 1
                size, pos = leb(payload, pos)
                end = pos + size
                if sub == 1:
                    count, cursor = leb(payload, pos)
                    for _ in range(count):
                        index, cursor = leb(payload, cursor)
                        length, cursor = leb(payload, cursor)
                        names[index] = payload[cursor:cursor + length].decode(errors="replace")
                        cursor += length
                pos = end
    functions = [(size, demangle(names.get(imports + index, f"func{imports + index}")))
                 for index, size in enumerate(bodies)]
    by_crate = collections.Counter()
    for size, name in functions:
        by_crate[crate_of(name)] += size
    return len(data), sum(bodies), by_crate, sorted(functions, reverse=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    path = build()
    total, code, by_crate, functions = analyse(path)
    dist = ROOT / "dist" / "mcp_policy_filter.wasm"
    print(f"unstripped, before wasm-opt: {total:,} bytes, code {code:,} bytes in {len(functions)} functions"
          + (f"; dist module: {dist.stat().st_size:,} bytes" if dist.exists() else ""))
    print("\n| crate | code bytes | share |\n|---|---|---|")
    for crate, size in by_crate.most_common(15):
        print(f"| {crate} | {size:,} | {size / code:.0%} |")
    print("\n| largest functions | bytes |\n|---|---|")
    for size, name in functions[:args.top]:
        print(f"| `{name[:120]}` | {size:,} |")


if __name__ == "__main__":
    main()
