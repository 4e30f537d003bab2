//! A structure-aware fuzzer for everything a scenario file reaches: it mutates the built-in
//! scenarios (and the Istio documents inside them) the way hostile or careless input does —
//! numbers at their edges, durations from 0 to past the overflow range, units people write,
//! deleted, duplicated and swapped fields, truncation and random bytes — then reads, checks and
//! briefly runs each result. The `meshsim-fuzz` binary drives it; anything but a clean error or
//! a finished run (a panic, or an execution slower than the hang limit) is kept as a crash.

use std::path::Path;

use rand::RngExt;
use sim::{SimTime, Simulation, StreamRng};

use crate::check;
use crate::scenario;
use crate::yaml::tree::{self, Node};
use models::mesh::summary::RunSummary;
use models::mesh::world::World;

/// Events a fuzzed run may take before it is stopped (a short bounded run).
pub const EVENT_BUDGET: u64 = 20_000;

/// What one execution did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The input was refused with an error.
    Refused,
    /// The input was read, checked and run.
    Ran,
}

/// Reads, checks and briefly runs `text` as a scenario whose files are relative to `base`.
pub fn execute(text: &str, base: &Path) -> Outcome {
    let Ok(scenario) = scenario::parse(text, "fuzz", base) else { return Outcome::Refused };
    let _ = check::check(&scenario, "fuzz");
    let config = scenario.config.clone();
    let (seed, duration, slo) = (config.seed, config.duration, config.metrics.slo_success);
    let Ok(mut simulation) = Simulation::try_new_with(|s| World::build(config, s)) else { return Outcome::Refused };
    // Like `run_until(end)`, but never past the event budget; no event after `end` is handled.
    let end = SimTime::ZERO + duration;
    for _ in 0..EVENT_BUDGET {
        match simulation.next_event_time() {
            Some(at) if at <= end => {
                simulation.step();
            }
            _ => break,
        }
    }
    let now = simulation.now().min(end);
    simulation.model_mut().close(now);
    let _ = RunSummary::of(simulation.model(), seed, duration, slo);
    Outcome::Ran
}

/// Values at the edges of what fields take.
const EDGES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "100",
    "101",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "0.5",
    "1e-300",
    "1e12",
    "1e308",
    ".inf",
    "-.inf",
    ".nan",
    "0s",
    "1ns",
    "1us",
    "999us",
    "1ms",
    "1s",
    "10s",
    "11s",
    "1h",
    "168h",
    "169h",
    "8760h",
    "8761h",
    "5000000h",
    "99999999999h",
    "-1s",
    "1.5ns",
    "1e3ms",
    "1 second",
    "0bps",
    "none",
    "1kbps",
    "1Mbps",
    "99999999999999999999999Gbps",
    "10.0.0.0/8",
    "10.0.0.1/16",
    "10.0.0.0/33",
    "0.0.0.0/0",
    "\"\"",
    "~",
    "true",
    "[]",
    "{}",
    "cn-hangzhou",
    "cn-shanghai",
    "ack-hangzhou",
    "reviews",
    "v2",
];

/// A mutated copy of `text`: one to three structural changes, sometimes a textual one.
pub fn mutate(text: &str, rng: &mut StreamRng) -> String {
    let mut out = match tree::parse(text) {
        Ok(mut root) => {
            for _ in 0..rng.random_range(1..=3) {
                mutate_tree(&mut root, rng);
            }
            tree::emit(&root)
        }
        Err(_) => text.to_owned(),
    };
    if rng.random_range(0..4) == 0 {
        out = mutate_text(&out, rng);
    }
    out
}

/// Every node's address in the tree, as child indices from the root.
fn addresses(node: &Node, at: &mut Vec<usize>, all: &mut Vec<Vec<usize>>) {
    all.push(at.clone());
    let children: Vec<&Node> = match node {
        Node::Seq(items) => items.iter().collect(),
        Node::Map(entries) => entries.iter().map(|(_, v)| v).collect(),
        _ => Vec::new(),
    };
    for (i, child) in children.into_iter().enumerate() {
        at.push(i);
        addresses(child, at, all);
        at.pop();
    }
}

fn node_at<'a>(node: &'a mut Node, address: &[usize]) -> &'a mut Node {
    let Some((&first, rest)) = address.split_first() else { return node };
    match node {
        Node::Seq(items) => node_at(&mut items[first], rest),
        Node::Map(entries) => node_at(&mut entries[first].1, rest),
        _ => node,
    }
}

fn mutate_tree(root: &mut Node, rng: &mut StreamRng) {
    let mut all = Vec::new();
    addresses(root, &mut Vec::new(), &mut all);
    let address = all[rng.random_range(0..all.len())].clone();
    let donor = {
        let pick = all[rng.random_range(0..all.len())].clone();
        node_at(root, &pick).clone()
    };
    let node = node_at(root, &address);
    match rng.random_range(0..8) {
        // An edge value, read as YAML so numbers stay numbers.
        0..=2 => *node = tree::parse(EDGES[rng.random_range(0..EDGES.len())]).unwrap_or(Node::Null),
        // Another part of the file in its place.
        3 => *node = donor,
        // A collection loses or repeats an item.
        4 => match node {
            Node::Seq(items) if !items.is_empty() => {
                let i = rng.random_range(0..items.len());
                if rng.random_range(0..2) == 0 {
                    items.remove(i);
                } else {
                    let copy = items[i].clone();
                    items.insert(i, copy);
                }
            }
            Node::Map(entries) if !entries.is_empty() => {
                let i = rng.random_range(0..entries.len());
                entries.remove(i);
            }
            _ => *node = Node::Null,
        },
        // A key misspelt or repeated.
        5 => {
            if let Node::Map(entries) = node
                && !entries.is_empty()
            {
                let i = rng.random_range(0..entries.len());
                if rng.random_range(0..2) == 0 {
                    entries[i].0.push('x');
                } else {
                    let copy = entries[i].clone();
                    entries.push(copy);
                }
            }
        }
        // Embedded YAML documents (the Istio resources): mutated in turn.
        6 => {
            if let Node::Text(text) = node
                && let Ok(mut docs) = tree::parse_stream(text)
                && !docs.is_empty()
            {
                let i = rng.random_range(0..docs.len());
                mutate_tree(&mut docs[i], rng);
                *text = tree::emit_stream(&docs);
            }
        }
        // Text edited by hand.
        _ => {
            if let Node::Text(text) = node {
                *text = mutate_text(text, rng);
            }
        }
    }
}

fn mutate_text(text: &str, rng: &mut StreamRng) -> String {
    let mut bytes = text.as_bytes().to_vec();
    match rng.random_range(0..4) {
        0 if !bytes.is_empty() => bytes.truncate(rng.random_range(0..bytes.len())),
        1 => {
            let at = rng.random_range(0..=bytes.len());
            let junk: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random::<u8>()).collect();
            bytes.splice(at..at, junk);
        }
        2 => {
            let lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let i = rng.random_range(0..lines.len());
                let mut copy: Vec<&str> = lines.clone();
                copy.insert(i, lines[i]);
                return copy.join("\n");
            }
        }
        _ => {
            let lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let i = rng.random_range(0..lines.len());
                return lines
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, l)| *l)
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::RandomStreams;

    #[test]
    fn mutations_change_the_file_and_executions_finish() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let text = std::fs::read_to_string(dir.join("seed-failover.yaml")).unwrap();
        assert_eq!(execute(&text, &dir), Outcome::Ran);
        let mut rng = RandomStreams::new(1).stream("fuzz");
        let mut refused = 0;
        for _ in 0..200 {
            let mutated = mutate(&text, &mut rng);
            assert_ne!(mutated, text);
            if execute(&mutated, &dir) == Outcome::Refused {
                refused += 1;
            }
        }
        assert!((10..190).contains(&refused), "{refused} of 200 refused: mutations should reach both outcomes");
    }
}
