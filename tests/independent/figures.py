#!/usr/bin/env python3
"""An independent computation of the exporter's per-node and per-namespace figures from a
cluster's objects (a `List` as the simulator's GET /objects returns it), for the end-to-end
tests: requests by docs/check_vectors.py (kube-scheduler's PodRequests, written from the spec in
Python), limits by PodLimits as docs/ACCOUNTING.md section 14 states it (written here, not
shared with the Rust code).

Usage: figures.py RESOURCES [PodLevelResources=on|off] [InPlacePodVerticalScaling=on|off] < list.json
Prints JSON: {"nodes": {NAME: {"allocated": {r: n}, "allocatable": {...}, "limits": {...},
"unlimited": {...}, "pods": n}}, "namespaces": {NS: {"allocated": {...}, "limits": {...},
"pods": n}}} in scheduler units (cpu millicores, everything else units).

When the input also carries "nodeMetrics" and "podMetrics" (the simulator's NodeMetricsList
and PodMetricsList), every node gets "usage" (its own figure), "pod_usage" and "unused" (the sum
over its counted pods with a sample of max(0, request - usage)), every namespace "pod_usage" and
"unused", for cpu (millicores, rounded up once per pod) and memory (bytes).
"""
import json
import os
import sys
from fractions import Fraction

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs"))
import check_vectors as cv  # noqa: E402

UNBOUNDED = ("cpu", "memory", "ephemeral-storage")


def pod_limits(pod, use_status, skip_pod_level):
    """PodLimits (component-helpers 1.33-1.35) and the names the pod is unlimited for."""
    spec = pod.get("spec", {})
    statuses = cv.container_statuses(pod, use_status)
    infeasible = use_status and cv.resize_infeasible(pod)
    open_names = set()

    def effective(c, status_allowed):
        lims = cv.rl((c.get("resources") or {}).get("limits")) or {}
        if use_status and status_allowed:
            cs = statuses.get(c["name"])
            if cs is not None and cs.get("resources") is not None:
                actual = cv.rl(cs["resources"].get("limits")) or {}
                lims = dict(actual) if infeasible else cv.rmax(lims, actual)
        return lims

    def note_open(c, lims):
        reqs = (c.get("resources") or {}).get("requests") or {}
        for name in set(UNBOUNDED) | set(reqs):
            if name not in lims:
                open_names.add(name)

    total = {}
    for c in spec.get("containers") or []:
        lims = effective(c, True)
        note_open(c, lims)
        cv.add_into(total, lims)
    sidecars = {}
    init_max = {}
    for c in spec.get("initContainers") or []:
        restartable = c.get("restartPolicy") == "Always"
        lims = effective(c, restartable)
        note_open(c, lims)
        if restartable:
            cv.add_into(total, lims)
            cv.add_into(sidecars, lims)
            candidate = dict(sidecars)
        else:
            candidate = dict(lims)
            cv.add_into(candidate, sidecars)
        cv.max_into(init_max, candidate)
    cv.max_into(total, init_max)
    if not skip_pod_level:
        pod_level = cv.rl(((spec.get("resources") or {}).get("limits"))) or {}
        for name, q in pod_level.items():
            if cv.supported_pod_level(name):
                total[name] = q
                open_names.discard(name)
    for name, q in (cv.rl(spec.get("overhead")) or {}).items():
        if name in total and total[name] != 0:
            total[name] = total[name] + q
    return total, open_names


def main():
    resources = sys.argv[1].split(",")
    flags = dict(a.split("=") for a in sys.argv[2:])
    gates = {k: v == "on" for k, v in flags.items()}
    use_status = gates.get("InPlacePodVerticalScaling", True)
    skip_pod_level = not gates.get("PodLevelResources", True)
    doc = json.load(sys.stdin)
    items = doc["items"]
    zero = lambda: {r: 0 for r in resources}  # noqa: E731
    nodes = {}
    for n in items:
        if n.get("kind") != "Node":
            continue
        status = n.get("status", {})
        alloc = status.get("allocatable")
        alloc = status.get("capacity") if alloc is None else alloc
        units = cv.to_sched_units(cv.rl(alloc) or {})
        nodes[n["metadata"]["name"]] = {
            "allocated": zero(), "limits": zero(), "unlimited": zero(), "pods": 0,
            "allocatable": {r: units.get(r, 0) for r in resources},
        }
    namespaces = {}
    for p in items:
        if p.get("kind") != "Pod":
            continue
        node = p.get("spec", {}).get("nodeName") or ""
        if node not in nodes or not cv.counted(p, node):
            continue
        reqs = cv.scheduler_pod_accounting(p, gates)[0]
        lims, open_names = pod_limits(p, use_status, skip_pod_level)
        lims = cv.to_sched_units(lims)
        ns = namespaces.setdefault(p["metadata"].get("namespace", ""),
                                   {"allocated": zero(), "limits": zero(), "pods": 0})
        figures = nodes[node]
        for target in (figures, ns):
            target["pods"] += 1
            for r in resources:
                target["allocated"][r] += 1 if r == "pods" else reqs.get(r, 0)
                if r != "pods":
                    target["limits"][r] += lims.get(r, 0)
        for r in resources:
            if r != "pods" and r in open_names:
                figures["unlimited"][r] += 1
    if "podMetrics" in doc:
        add_usage(doc, items, nodes, namespaces, gates)
    json.dump({"nodes": nodes, "namespaces": namespaces}, sys.stdout)


USAGE = ("cpu", "memory")


def add_usage(doc, items, nodes, namespaces, gates):
    """The usage figures, from the metrics lists and the counted pods."""
    pods = {}
    for p in items:
        if p.get("kind") != "Pod":
            continue
        node = p.get("spec", {}).get("nodeName") or ""
        if node in nodes and cv.counted(p, node):
            key = p["metadata"].get("namespace", "") + "/" + p["metadata"]["name"]
            pods[key] = (node, cv.scheduler_pod_accounting(p, gates)[0])
    for figures in list(nodes.values()) + list(namespaces.values()):
        figures["pod_usage"] = {r: 0 for r in USAGE}
        figures["unused"] = {r: 0 for r in USAGE}
        figures["sampled"] = 0
    for item in doc["nodeMetrics"]["items"]:
        name = item["metadata"]["name"]
        if name in nodes:
            units = cv.to_sched_units(cv.rl(item["usage"]))
            nodes[name]["usage"] = {r: units.get(r, 0) for r in USAGE}
    for item in doc["podMetrics"]["items"]:
        key = item["metadata"]["namespace"] + "/" + item["metadata"]["name"]
        if key not in pods:
            continue
        node, reqs = pods[key]
        total = {}
        for c in item["containers"]:
            cv.add_into(total, cv.rl(c["usage"]))
        used = cv.to_sched_units(total)
        ns = namespaces[item["metadata"]["namespace"]]
        for target in (nodes[node], ns):
            target["sampled"] += 1
            for r in USAGE:
                target["pod_usage"][r] += used.get(r, 0)
                target["unused"][r] += max(0, reqs.get(r, 0) - used.get(r, 0))


if __name__ == "__main__":
    main()
