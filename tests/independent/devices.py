#!/usr/bin/env python3
"""An independent computation of the exporter's DRA device figures from a cluster's objects (a
`List` as the simulator's GET /objects returns it: Nodes, Pods, ResourceSlices, ResourceClaims,
DeviceClasses), written from docs/ACCOUNTING.md section 15, not from the Rust code.

Usage: devices.py RESOURCES < list.json
Prints JSON:
  {"nodes": {NODE: {"drivers": {D: [published, allocated]}, "classes": {C: [p, a]}}},
   "pools": {"DRIVER/POOL": [p, a]},            # shared pools
   "cluster": {D: [p, a]},                      # node-local devices of listed nodes + shared
   "classes": {C: [p, a]},                      # cluster-wide; p is null for an unresolved class
   "class_info": {C: {"resolved": bool, "extended_resource": str}},
   "claims": [allocated, pending],
   "allocatable": {NODE: {RESOURCE: n}}}        # DRA-backed tracked resources on nodes that
                                                # do not advertise them
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs"))
import check_vectors as cv  # noqa: E402

IMPLICIT = "deviceclass.resource.kubernetes.io/"
DRIVER = re.compile(r"""^\s*(?:device\.driver\s*==\s*(["'])([^"'\\]+)\1|(["'])([^"'\\]+)\3\s*==\s*device\.driver)\s*$""")
ATTRIBUTE = re.compile(r"""^device\.attributes\[(["'])([^"'\\]+)\1\]\.([A-Za-z0-9_-]+)$""")
LITERAL = re.compile(r"""^(?:(["'])([^"'\\]*)\1|(true|false)|(-?[0-9]+))$""")


def attribute_term(term):
    """device.attributes["D"].N == literal (either side) -> ("D/N", value) or None."""
    if "==" not in term:
        return None
    left, right = (x.strip() for x in term.split("==", 1))
    for field, literal in ((left, right), (right, left)):
        m, lit = ATTRIBUTE.match(field), LITERAL.match(literal)
        if m and lit:
            if lit.group(1):
                value = ("string", lit.group(2))
            elif lit.group(3):
                value = ("bool", lit.group(3) == "true")
            else:
                value = ("int", int(lit.group(4)))
            return (m.group(2) + "/" + m.group(3), value)
    return None


def selection(cls):
    """None: unresolved; "": nothing; else (driver or None, [(qualified name, (kind, value))])."""
    driver, attrs = None, []
    for sel in (cls.get("spec") or {}).get("selectors") or []:
        expression = ((sel or {}).get("cel") or {}).get("expression")
        if expression is None:
            return None
        for term in expression.split("&&"):
            m = DRIVER.match(term)
            if m:
                name = m.group(2) or m.group(4)
                if driver is not None and driver != name:
                    return ""
                driver = name
                continue
            a = attribute_term(term.strip())
            if a is None:
                return None
            attrs.append(a)
    return (driver, attrs)


def device_attributes(driver, device):
    """{qualified name: (kind, value)}: an unqualified name is in the driver's domain."""
    out = {}
    for name, v in (device.get("attributes") or {}).items():
        qualified = name if "/" in name else driver + "/" + name
        for kind in ("string", "bool", "int", "version"):
            if kind in v and v[kind] is not None:
                out[qualified] = (kind, v[kind])
                break
    return out


def selects(sel, driver, attributes):
    if not sel:
        return False
    want_driver, want_attrs = sel
    if want_driver is not None and want_driver != driver:
        return False
    return all(attributes.get(name) == value for name, value in want_attrs)


def main():
    tracked = [r for r in sys.argv[1].split(",") if r]
    items = json.load(sys.stdin)["items"]
    nodes = {i["metadata"]["name"]: i for i in items if i["kind"] == "Node"}
    slices = [i for i in items if i["kind"] == "ResourceSlice"]
    claims = [i for i in items if i["kind"] == "ResourceClaim"]
    classes = {i["metadata"]["name"]: i for i in items if i["kind"] == "DeviceClass"}

    newest = {}
    for s in slices:
        spec = s["spec"]
        key = (spec["driver"], spec["pool"]["name"])
        newest[key] = max(newest.get(key, spec["pool"]["generation"]), spec["pool"]["generation"])

    # Allocated devices: first claim by namespace/name names the class.
    holder = {}
    allocated_claims = pending = 0
    for c in sorted(claims, key=lambda c: (c["metadata"].get("namespace", ""), c["metadata"]["name"])):
        allocation = (c.get("status") or {}).get("allocation")
        if allocation is None:
            pending += 1
            continue
        allocated_claims += 1
        requests = {r["name"]: r for r in (c["spec"].get("devices") or {}).get("requests") or []}
        for res in (allocation.get("devices") or {}).get("results") or []:
            if res.get("adminAccess"):
                continue
            name, _, sub = res["request"].partition("/")
            req = requests.get(name) or {}
            if sub:
                cls = next((s.get("deviceClassName") for s in req.get("firstAvailable") or [] if s.get("name") == sub), None)
            else:
                cls = (req.get("exactly") or {}).get("deviceClassName")
            key = (res["driver"], res["pool"], res["device"])
            if holder.get(key) is None:
                holder[key] = cls or None

    resolved = {name: selection(c) for name, c in classes.items()}
    out_nodes, pools, seen = {}, {}, set()

    def bump(table, key, allocated):
        entry = table.setdefault(key, [0, 0])
        entry[0] += 1
        entry[1] += 1 if allocated else 0

    for s in slices:
        spec = s["spec"]
        key = (spec["driver"], spec["pool"]["name"])
        if spec["pool"]["generation"] != newest[key]:
            continue
        for d in spec.get("devices") or []:
            dev = (spec["driver"], spec["pool"]["name"], d["name"])
            if dev in seen:
                continue
            seen.add(dev)
            node = spec.get("nodeName") or (d.get("nodeName") if spec.get("perDeviceNodeSelection") else None)
            if node:
                place = out_nodes.setdefault(node, {"drivers": {}, "classes": {}})
            else:
                place = pools.setdefault("/".join(key), {"drivers": {}, "classes": {}})
            is_allocated = dev in holder
            bump(place["drivers"], spec["driver"], is_allocated)
            attrs = device_attributes(spec["driver"], d)
            for cname, sel in resolved.items():
                if selects(sel, spec["driver"], attrs):
                    place["classes"].setdefault(cname, [0, 0])[0] += 1
            if is_allocated and holder[dev]:
                place["classes"].setdefault(holder[dev], [0, 0])[1] += 1

    out_nodes = {n: p for n, p in out_nodes.items() if n in nodes}
    cluster, class_totals = {}, {}
    for place in list(out_nodes.values()) + list(pools.values()):
        for d, (p, a) in place["drivers"].items():
            e = cluster.setdefault(d, [0, 0])
            e[0] += p
            e[1] += a
        for c, (p, a) in place["classes"].items():
            e = class_totals.setdefault(c, [0, 0])
            e[0] += p
            e[1] += a
    for c in classes:
        class_totals.setdefault(c, [0, 0])
    class_out = {c: [v[0] if resolved.get(c) is not None else None, v[1]] for c, v in class_totals.items()}

    allocatable = {}
    for r in tracked:
        # The most recently created class backs the resource; of those created at once, the
        # first by name (DeviceClassSpec.extendedResourceName).
        backing = sorted(n for n, c in classes.items()
                         if (c.get("spec") or {}).get("extendedResourceName") == r or r == IMPLICIT + n)
        backing.sort(key=lambda n: classes[n]["metadata"].get("creationTimestamp") or "", reverse=True)
        if not backing or resolved[backing[0]] is None:
            continue
        for name, node in nodes.items():
            status = node.get("status") or {}
            # Allocatable as the exporter reads it: allocatable, else capacity (section 8).
            listed = status.get("allocatable") if status.get("allocatable") is not None else status.get("capacity")
            advertised = (listed or {}).get(r)
            if advertised is not None and cv.parse_quantity(advertised) > 0:
                continue
            count = out_nodes.get(name, {"classes": {}})["classes"].get(backing[0], [0, 0])[0]
            allocatable.setdefault(name, {})[r] = count

    json.dump({
        "nodes": out_nodes,
        "pools": {k: v["drivers"] for k, v in pools.items()},
        "cluster": cluster,
        "classes": class_out,
        "class_info": {c: {"resolved": resolved[c] is not None,
                           "extended_resource": (classes[c].get("spec") or {}).get("extendedResourceName") or ""}
                       for c in classes},
        "claims": [allocated_claims, pending],
        "allocatable": allocatable,
    }, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
