//! Dependency order: start order, stop tiers, cycle detection.

use super::spec::NodeSpec;
use std::collections::{BTreeSet, HashMap};

/// A cycle through `depends_on`, as a list of names ending where it started.
pub(crate) fn find_cycle(nodes: &[NodeSpec]) -> Option<Vec<String>> {
    let index: HashMap<&str, &NodeSpec> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    // 0 = unvisited, 1 = on stack, 2 = done
    let mut mark: HashMap<&str, u8> = HashMap::new();
    fn visit<'a>(
        name: &'a str,
        index: &HashMap<&'a str, &'a NodeSpec>,
        mark: &mut HashMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match mark.get(name) {
            Some(2) => return None,
            Some(1) => {
                let from = stack.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle: Vec<String> = stack[from..].iter().map(|s| (*s).to_string()).collect();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        mark.insert(name, 1);
        stack.push(name);
        if let Some(node) = index.get(name) {
            for dep in &node.depends_on {
                if let Some(cycle) = visit(dep, index, mark, stack) {
                    return Some(cycle);
                }
            }
        }
        stack.pop();
        mark.insert(name, 2);
        None
    }
    for node in nodes {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(&node.name, &index, &mut mark, &mut stack) {
            return Some(cycle);
        }
    }
    None
}

/// Start order: dependencies before dependents, otherwise declaration order.
pub(crate) fn start_order(nodes: &[NodeSpec]) -> Vec<String> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < nodes.len() {
        let before = order.len();
        for node in nodes {
            if !done.contains(node.name.as_str())
                && node.depends_on.iter().all(|d| done.contains(d.as_str()) || !nodes.iter().any(|n| &n.name == d))
            {
                done.insert(&node.name);
                order.push(node.name.clone());
            }
        }
        if order.len() == before {
            // A cycle (rejected at parse time); keep the rest in declaration order.
            order.extend(nodes.iter().filter(|n| !done.contains(n.name.as_str())).map(|n| n.name.clone()));
            break;
        }
    }
    order
}

/// For each node of a stop-all, the nodes it waits for: those of an earlier tier that depend on
/// it directly (a dependency within a cycle, which the manifest rejects anyway, is not waited
/// for: the tiers have already broken it).
pub(crate) fn stop_waits(specs: &[NodeSpec], tiers: &[Vec<String>]) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut waits = std::collections::BTreeMap::new();
    for (i, tier) in tiers.iter().enumerate() {
        for name in tier {
            let dependents: Vec<String> = tiers[..i]
                .iter()
                .flatten()
                .filter(|d| specs.iter().any(|s| &s.name == *d && s.depends_on.contains(name)))
                .cloned()
                .collect();
            if !dependents.is_empty() {
                waits.insert(name.clone(), dependents);
            }
        }
    }
    waits
}

/// Stop tiers among `names`: dependents first. A node is in a tier once every node (of `names`)
/// that depends on it is in an earlier tier.
pub(crate) fn stop_tiers(nodes: &[NodeSpec], names: &[String]) -> Vec<Vec<String>> {
    let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut tiers = Vec::new();
    let declared: Vec<&NodeSpec> = nodes.iter().filter(|n| wanted.contains(n.name.as_str())).collect();
    while placed.len() < declared.len() {
        let tier: Vec<String> = declared
            .iter()
            .filter(|n| !placed.contains(n.name.as_str()))
            .filter(|n| {
                declared.iter().all(|other| placed.contains(other.name.as_str()) || !other.depends_on.contains(&n.name))
            })
            .map(|n| n.name.clone())
            .collect();
        if tier.is_empty() {
            // Cycle: stop the rest together.
            tiers.push(declared.iter().filter(|n| !placed.contains(n.name.as_str())).map(|n| n.name.clone()).collect());
            break;
        }
        for name in &tier {
            if let Some(n) = declared.iter().find(|n| &n.name == name) {
                placed.insert(n.name.as_str());
            }
        }
        tiers.push(tier);
    }
    // Names not in the manifest (watch sessions) go in the first tier.
    let extra: Vec<String> = names.iter().filter(|n| !nodes.iter().any(|s| &s.name == *n)).cloned().collect();
    if !extra.is_empty() {
        if tiers.is_empty() {
            tiers.push(extra);
        } else {
            tiers[0].extend(extra);
        }
    }
    tiers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, deps: &[&str]) -> NodeSpec {
        let mut n = NodeSpec::with_defaults(name, vec!["true".into()]);
        n.depends_on = deps.iter().map(|d| (*d).to_string()).collect();
        n
    }

    #[test]
    fn dependents_stop_first_and_start_last() {
        let nodes = vec![node("app", &["db", "cache"]), node("db", &[]), node("cache", &["db"]), node("lone", &[])];
        assert_eq!(start_order(&nodes), vec!["db", "cache", "lone", "app"]);
        let all: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
        assert_eq!(
            stop_tiers(&nodes, &all),
            vec![vec!["app".to_string(), "lone".to_string()], vec!["cache".to_string()], vec!["db".to_string()]]
        );
    }

    #[test]
    fn finds_cycles() {
        let nodes = vec![node("a", &["b"]), node("b", &["c"]), node("c", &["a"])];
        assert_eq!(find_cycle(&nodes), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
        assert_eq!(find_cycle(&[node("a", &[])]), None);
    }
}
