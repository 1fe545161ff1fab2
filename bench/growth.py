"""The growth set of `make bench` (`bench/run.py --growth`): how the filter's
cost grows with the work, for a second view of machines whose speed drifts
between rounds. Each point is measured against a passthrough of the same
request in the same round, so the slopes come from paired differences.

- body size: scenario 2's allowed call (no conditions) padded to 4 KiB,
  64 KiB and 1 MiB with one string argument; the 125-byte point is
  scenarios 2 and 1;
- conditions: one call (50 arguments, 622 bytes) to tools with 0, 7 and 50
  `require` conditions that all hold (eq, in, gte, lte, neq, exists, not_in
  in turn; no regex), in one policy;
- list size: tools/list results of 45, 450 and 5,000 tools in the shape of
  scenario 6b's (about 490 bytes a tool, 1 in 34 hidden by the 1,300-tool
  policy's `hide`); the 1,360-tool point is scenarios 6b and 1-list1300.

Slopes: µs of Envoy CPU per KiB of body or list, and per condition, fitted by
least squares through the paired ΔCPU of each point (filter − passthrough).
"""
import configs as c

BODY_SIZES = [("4k", 4 * 1024, "4 KiB"), ("64k", 64 * 1024, "64 KiB"), ("1m", 1024 * 1024, "1 MiB")]
CONDITIONS = [0, 7, 50]
ARGUMENTS = 50
LIST_SIZES = [45, 450, 5000]
HIDDEN_EVERY = 34
# The filter's limit on request bodies (the default is exactly 1 MiB).
MAX_BODY_BYTES = 2 * 1024 * 1024


def padded_call(size):
    """Scenario 2's allowed call, `size` bytes long."""
    empty = c.call("get_server_status", {"include": "afip,evolution", "pad": ""})
    body = c.call("get_server_status", {"include": "afip,evolution", "pad": "x" * (size - len(empty))})
    assert len(body) == size, (len(body), size)
    return body


def argument(index):
    """The 50 arguments' values and the condition on each (all hold)."""
    name, kind = f"a{index:02d}", index % 7
    path = f"args.{name}"
    return [
        (name, f"v{index}", {"path": path, "op": "eq", "value": f"v{index}"}),
        (name, "PES", {"path": path, "op": "in", "value": ["PES", "DOL", "EUR"]}),
        (name, index + 10, {"path": path, "op": "gte", "value": index}),
        (name, index, {"path": path, "op": "lte", "value": index + 10}),
        (name, "x", {"path": path, "op": "neq", "value": "y"}),
        (name, True, {"path": path, "op": "exists", "value": True}),
        (name, "ARS", {"path": path, "op": "not_in", "value": ["USD", "EUR"]}),
    ][kind]


def condition_tool(count):
    return f"cond_{count}"


def condition_call(count):
    return c.call(condition_tool(count), {name: value for name, value, _ in map(argument, range(ARGUMENTS))})


def conditions_config():
    """Scenario 2's configuration plus cond_0, cond_7 and cond_50."""
    config = c.afip_config()
    for count in CONDITIONS:
        entry = {"require": [argument(index)[2] for index in range(count)]} if count else {}
        config["policy"]["tools"][condition_tool(count)] = entry
    return config


def body_config():
    """Scenario 2's configuration, with room for the 1 MiB body."""
    return {**c.afip_config(), "max_body_bytes": MAX_BODY_BYTES}


def hidden_name(index):
    return f"drop_table_g{index}"


def tools_list(size):
    """`size` tools in big_tools_list's shape: 1 in HIDDEN_EVERY hidden by the
    big policy's `drop_*`, the others its exact tools, then `get_*` ones."""
    generated = c.generated_tools()
    names, hidden, kept = [], 0, 0
    for index in range(size):
        if index % HIDDEN_EVERY == HIDDEN_EVERY - 1:
            names.append(hidden_name(hidden))
            hidden += 1
        else:
            names.append(generated[kept] if kept < len(generated) else f"get_record_{kept}")
            kept += 1
    return {"jsonrpc": "2.0", "id": 1, "result": {"tools": [c.generated_tool(name) for name in names]}}


def list_key(size):
    return f"list-g{size}"


def responses():
    """The upstream's tools/list results of the list-size points."""
    return {list_key(size): c.compact(tools_list(size)) for size in LIST_SIZES}


def gateway_specs(module):
    return {
        "growth-body": ("filter, as afip with max_body_bytes 2 MiB", [c.wasm_filter(module, body_config(), "growth-body")]),
        "growth-cond": ("filter, as afip plus tools with 0, 7 and 50 conditions",
                        [c.wasm_filter(module, conditions_config(), "growth-cond")]),
    }


def scenarios(Scenario, verify_allowed, verify_list):
    """The growth scenarios; `Scenario`, `verify_allowed(gateway_name, body,
    response)` and `verify_list(gateway_name, response, keep, hide)` are
    bench/run.py's."""
    found = []
    for key, size, label in BODY_SIZES:
        body = padded_call(size)
        found += [
            Scenario(f"1-b{key}", f"Growth: passthrough, {label} tools/call", "passthrough", body, baseline="1",
                     verify=verify_allowed("passthrough", body, "call"), growth=True),
            Scenario(f"b{key}", f"Growth: filter as in 2, {label} allowed call", "growth-body", body,
                     baseline=f"1-b{key}", verify=verify_allowed("growth-body", body, "call"), growth=True),
        ]
    widest = condition_call(max(CONDITIONS))
    found.append(Scenario("1-c", f"Growth: passthrough, the {len(widest):,}-byte call of 50 arguments",
                          "passthrough", widest, baseline="1", verify=verify_allowed("passthrough", widest, "call"),
                          growth=True))
    for count in CONDITIONS:
        body = condition_call(count)
        found.append(Scenario(f"c{count}", f"Growth: filter, allowed call with {count} conditions", "growth-cond",
                              body, baseline="1-c", verify=verify_allowed("growth-cond", body, "call"), growth=True))
    for size in LIST_SIZES:
        key = list_key(size)
        kept = c.generated_tools()[0]
        found += [
            Scenario(f"1-l{size}", f"Growth: passthrough, tools/list of {size:,} tools", "passthrough", c.TOOLS_LIST,
                     response=key, expect_text=f'"{hidden_name(0)}"', baseline=None,
                     verify=verify_list("passthrough", key, kept, None), growth=True),
            Scenario(f"l{size}", f"Growth: filter (1,300-tool policy), tools/list of {size:,} tools", "big",
                     c.TOOLS_LIST, response=key, expect_text=f'"{kept}"', reject_text=f'"{hidden_name(0)}"',
                     baseline=f"1-l{size}", verify=verify_list("big", key, kept, hidden_name(0)), growth=True),
        ]
    return found


# --- the report ------------------------------------------------------------------------

def fit(points):
    """Least-squares slope of (x, y) points, or None."""
    points = [(x, y) for x, y in points if y is not None]
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else None


def paired(runs_by_key, key, base, value):
    """median over rounds of value(run of key, run of base)."""
    a, b = runs_by_key.get(key), runs_by_key.get(base)
    if not a or not b:
        return None
    values = sorted(value(x, y) for x, y in zip(a, b))
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def point(runs_by_key, rows, key, base, x, label):
    row = rows.get(key)
    if row is None or base not in rows:
        return None
    return {
        "key": key, "base": base, "x": x, "label": label, "bytes": row["body_bytes"],
        "rps": row["rps"], "p50_ms": row["p50_ms"], "p99_ms": row["p99_ms"],
        "ratio": paired(runs_by_key, key, base, lambda r, b: r["rps"] / b["rps"]),
        "cpu_ratio": paired(runs_by_key, key, base, lambda r, b: b["cpu_us_per_request"] / r["cpu_us_per_request"]),
        "delta_us": paired(runs_by_key, key, base, lambda r, b: r["cpu_us_per_request"] - b["cpu_us_per_request"]),
    }


def report(summary, runs_by_key):
    """The growth table's three parts and their slopes (None where not run)."""
    rows = {row["key"]: row for row in summary["rows"]}
    body = [point(runs_by_key, rows, "2", "1", len(c.ALLOWED_CALL) / 1024, f"{len(c.ALLOWED_CALL)} B (2 / 1)")]
    body += [point(runs_by_key, rows, f"b{key}", f"1-b{key}", size / 1024, label) for key, size, label in BODY_SIZES]
    conditions = [point(runs_by_key, rows, f"c{count}", "1-c", count, f"{count} conditions") for count in CONDITIONS]
    list_bytes = {size: len(c.compact(tools_list(size))) for size in LIST_SIZES}
    lists = [point(runs_by_key, rows, f"l{size}", f"1-l{size}", size, f"{size:,} tools ({list_bytes[size] / 1024:,.0f} KiB)")
             for size in LIST_SIZES]
    big = len(c.compact(c.big_tools_list()))
    lists.insert(2, point(runs_by_key, rows, "6b", "1-list1300", 1360, f"1,360 tools ({big / 1024:,.0f} KiB; 6b)"))
    body, conditions, lists = ([p for p in part if p] for part in (body, conditions, lists))
    if not (body[1:] or conditions or lists):
        return None
    sizes = {p["key"]: p["x"] for p in lists}
    kib = {f"l{size}": list_bytes[size] / 1024 for size in LIST_SIZES} | {"6b": big / 1024}
    per_condition = paired(runs_by_key, "c50", "c0",
                           lambda r, b: (r["cpu_us_per_request"] - b["cpu_us_per_request"]) / 50)
    return {
        "body": body, "conditions": conditions, "lists": lists,
        "us_per_body_kib": fit([(p["x"], p["delta_us"]) for p in body]) if len(body) > 1 else None,
        "us_per_condition": per_condition if per_condition is not None
        else fit([(p["x"], p["delta_us"]) for p in conditions]),
        "us_per_condition_fit": fit([(p["x"], p["delta_us"]) for p in conditions]),
        "us_per_list_kib": fit([(kib[p["key"]], p["delta_us"]) for p in lists]),
        "us_per_tool": fit([(sizes[p["key"]], p["delta_us"]) for p in lists]),
    }


def fmt(value, spec, missing="–"):
    return missing if value is None else format(value, spec)


def table(growth):
    """The growth report as markdown."""
    lines = ["| growth | point | filter req/s | × its passthrough (paired) | by CPU | Δ CPU µs/req | p50 ms | p99 ms |",
             "|---|---|---|---|---|---|---|---|"]
    for part, points in (("body size", growth["body"]), ("conditions", growth["conditions"]),
                         ("list size", growth["lists"])):
        for p in points:
            lines.append(f"| {part} | {p['label']} | {p['rps']:,.0f} | {fmt(p['ratio'], '.2f')} "
                         f"| {fmt(p['cpu_ratio'], '.2f')} | {fmt(p['delta_us'], '+.1f')} "
                         f"| {p['p50_ms']:.2f} | {p['p99_ms']:.2f} |")
    return "\n".join(lines)


def slopes(growth):
    """The slope lines printed under the table."""
    return [
        f"growth: request body {fmt(growth['us_per_body_kib'], '.2f')} µs/KiB (Envoy CPU over passthrough, "
        "least squares over 125 B to 1 MiB)",
        f"growth: conditions {fmt(growth['us_per_condition'], '.2f')} µs/condition (c50 − c0, paired; "
        f"least squares {fmt(growth['us_per_condition_fit'], '.2f')})",
        f"growth: tools/list {fmt(growth['us_per_list_kib'], '.2f')} µs/KiB, "
        f"{fmt(growth['us_per_tool'], '.2f')} µs/tool (least squares over 45 to 5,000 tools)",
    ]
