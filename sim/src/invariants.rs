//! The promises Dynamic Resource Allocation keeps, checked on a whole cluster: every allocated
//! device is published by a slice of its pool's current generation, no device is allocated
//! twice, and no node has more of its node-local devices allocated than it publishes. Tests and
//! churn's checks call it; it reads objects and changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::object::{Kind, Object};

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Checks the DRA invariants over `objects` (any kinds; slices and claims are read); the error
/// names the first broken one.
pub fn check_dra<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Result<(), String> {
    // (driver, pool) → generation → devices; node-local pool → node.
    let mut pools: BTreeMap<(String, String), BTreeMap<u64, BTreeSet<String>>> = BTreeMap::new();
    let mut local: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut claims = Vec::new();
    for o in objects {
        match o.kind {
            Kind::ResourceSlice => {
                let v = o.to_value()?;
                let pool = (
                    text(&v, "/spec/driver").to_string(),
                    text(&v, "/spec/pool/name").to_string(),
                );
                let generation = v
                    .pointer("/spec/pool/generation")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let devices = pools
                    .entry(pool.clone())
                    .or_default()
                    .entry(generation)
                    .or_default();
                for d in v
                    .pointer("/spec/devices")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if !devices.insert(text(d, "/name").to_string()) {
                        return Err(format!(
                            "device {} twice in pool {pool:?}",
                            text(d, "/name")
                        ));
                    }
                }
                if !o.node_name.is_empty() {
                    local.insert(pool, o.node_name.to_string());
                }
            }
            Kind::ResourceClaim => claims.push((o.key.to_string(), o.to_value()?)),
            _ => {}
        }
    }
    let mut taken: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for (key, claim) in &claims {
        for r in claim
            .pointer("/status/allocation/devices/results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let pool = (text(r, "/driver").to_string(), text(r, "/pool").to_string());
            let device = text(r, "/device").to_string();
            let current = pools
                .get(&pool)
                .and_then(|g| g.last_key_value())
                .map(|(_, d)| d);
            if !current.is_some_and(|d| d.contains(&device)) {
                return Err(format!(
                    "claim {key} holds {device} of {pool:?}, not published at the pool's current generation"
                ));
            }
            if !taken.insert((pool.0.clone(), pool.1.clone(), device.clone())) {
                return Err(format!(
                    "device {device} of {pool:?} allocated twice (again by {key})"
                ));
            }
            if let Some(node) = local.get(&pool) {
                *per_node.entry(node.clone()).or_default() += 1;
            }
        }
    }
    for (node, allocated) in per_node {
        let published: usize = local
            .iter()
            .filter(|(_, n)| **n == node)
            .filter_map(|(p, _)| pools.get(p).and_then(|g| g.last_key_value()))
            .map(|(_, d)| d.len())
            .sum();
        if allocated > published {
            return Err(format!(
                "node {node}: {allocated} devices allocated, {published} published"
            ));
        }
    }
    Ok(())
}
