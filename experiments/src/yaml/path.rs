//! Field paths: how a sweep names the scenario field it varies.
//!
//! A path is keys joined by dots, each optionally followed by selectors in brackets:
//! - `[2]` picks an item of a sequence by position;
//! - `[ack-hangzhou]` picks the item whose `name` is that text;
//! - on a text field holding YAML documents (the embedded `istio.resources`), `[Kind/name]`
//!   picks the document of that kind and `metadata.name` (`[0]` the first document).
//!
//! `istio.resources[DestinationRule/reviews].spec.trafficPolicy.outlierDetection.interval`,
//! `cen.connections[0].bandwidth` and `clusters[ack-hangzhou].deployments[2].replicas` are paths.
//! A missing key of a mapping is added (so a sweep can set what the base leaves at its
//! default); a missing item is an error listing what there is.

use std::fmt;

use super::tree::{self, Node};

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// A mapping key.
    Key(String),
    /// A sequence item by position.
    Index(usize),
    /// A sequence item by its `name`, or a document by `Kind/name`.
    Named(String),
}

/// A parsed field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    steps: Vec<Step>,
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for FieldPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "field path {text:?}: {why}; write keys joined by dots, with [index] or [name] for items, e.g. cen.connections[0].bandwidth"
            )
        };
        let mut steps = Vec::new();
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(bad("it is empty"));
        }
        loop {
            let key_end = rest.find(['.', '[']).unwrap_or(rest.len());
            let key = &rest[..key_end];
            if key.is_empty() {
                return Err(bad("a key is missing"));
            }
            if key.contains(']') {
                return Err(bad("a ] without its ["));
            }
            steps.push(Step::Key(key.to_owned()));
            rest = &rest[key_end..];
            while let Some(after) = rest.strip_prefix('[') {
                let close = after.find(']').ok_or_else(|| bad("a [ is not closed"))?;
                let selector = after[..close].trim();
                if selector.is_empty() {
                    return Err(bad("[] selects nothing"));
                }
                steps.push(match selector.parse::<usize>() {
                    Ok(index) => Step::Index(index),
                    Err(_) => Step::Named(selector.to_owned()),
                });
                rest = &after[close + 1..];
            }
            match rest.strip_prefix('.') {
                Some(next) => rest = next,
                None if rest.is_empty() => break,
                None => return Err(bad("expected . or [ after a key")),
            }
        }
        Ok(FieldPath { text: text.trim().to_owned(), steps })
    }
}

impl FieldPath {
    /// Its steps, for walking other trees.
    pub(super) fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Sets the field this path names in `root` to `value`.
    pub fn set(&self, root: &mut Node, value: Node) -> Result<(), String> {
        set_at(root, &self.steps, value, &mut String::new()).map_err(|e| format!("{}: {e}", self.text))
    }
}

fn set_at(node: &mut Node, steps: &[Step], value: Node, walked: &mut String) -> Result<(), String> {
    let Some((step, rest)) = steps.split_first() else {
        *node = value;
        return Ok(());
    };
    match (step, &mut *node) {
        (Step::Key(key), Node::Map(entries)) => {
            walked.push_str(if walked.is_empty() { "" } else { "." });
            walked.push_str(key);
            let index = match entries.iter().position(|(k, _)| k == key) {
                Some(i) => i,
                None => {
                    entries.push((key.clone(), Node::Null));
                    entries.len() - 1
                }
            };
            set_at(&mut entries[index].1, rest, value, walked)
        }
        (Step::Key(_), Node::Null) => {
            *node = Node::Map(Vec::new());
            set_at(node, steps, value, walked)
        }
        (Step::Index(_) | Step::Named(_), Node::Text(text)) => {
            // A text field of YAML documents: enter it as a sequence of documents.
            let mut docs =
                Node::Seq(tree::parse_stream(text).map_err(|e| format!("{walked} holds no YAML documents: {e}"))?);
            set_at(&mut docs, steps, value, walked)?;
            let Node::Seq(docs) = docs else { unreachable!("still a sequence") };
            *text = tree::emit_stream(&docs);
            Ok(())
        }
        (Step::Index(i), Node::Seq(items)) => {
            let count = items.len();
            walked.push_str(&format!("[{i}]"));
            let item = items.get_mut(*i).ok_or_else(|| {
                format!("{walked} does not exist: there are {count} items, [0] to [{}]", count.max(1) - 1)
            })?;
            set_at(item, rest, value, walked)
        }
        (Step::Named(name), Node::Seq(items)) => {
            let names: Vec<String> = items.iter().filter_map(item_name).collect();
            let found = items.iter_mut().find(|item| item_name(item).as_deref() == Some(name.as_str()));
            let Some(item) = found else {
                return Err(format!("{walked} has no item [{name}]; there are [{}]", names.join("], [")));
            };
            walked.push_str(&format!("[{name}]"));
            set_at(item, rest, value, walked)
        }
        (Step::Key(key), other) => Err(format!("{walked} is {}, so it has no field {key:?}", describe(other))),
        (Step::Index(_) | Step::Named(_), other) => {
            Err(format!("{walked} is {}, not a list to pick an item from", describe(other)))
        }
    }
}

/// How an item of a sequence is named: its `name`, or `Kind/name` for a Kubernetes document.
fn item_name(item: &Node) -> Option<String> {
    if let (Some(Node::Text(kind)), Some(Node::Text(name))) =
        (item.get("kind"), item.get("metadata").and_then(|m| m.get("name")))
    {
        return Some(format!("{kind}/{name}"));
    }
    match item.get("name") {
        Some(Node::Text(name)) => Some(name.clone()),
        _ => None,
    }
}

fn describe(node: &Node) -> &'static str {
    match node {
        Node::Null => "empty",
        Node::Bool(_) => "a boolean",
        Node::Number(_) => "a number",
        Node::Text(_) => "text",
        Node::Seq(_) => "a list",
        Node::Map(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(yaml: &str, path: &str, value: &str) -> Result<Node, String> {
        let mut root = tree::parse(yaml).unwrap();
        path.parse::<FieldPath>()?.set(&mut root, tree::parse(value).unwrap())?;
        Ok(root)
    }

    #[test]
    fn keys_indices_and_names_reach_their_field() {
        let yaml = "cen:\n  connections:\n    - {bandwidth: 100Mbps}\nclusters:\n  - name: a\n    deployments: [{replicas: 1}, {replicas: 2}]\n";
        let root = set(yaml, "cen.connections[0].bandwidth", "2Mbps").unwrap();
        assert_eq!(root.get("cen").unwrap().get("connections"), Some(&tree::parse("[{bandwidth: 2Mbps}]").unwrap()));
        let root = set(yaml, "clusters[a].deployments[1].replicas", "5").unwrap();
        assert!(tree::emit(&root).contains("replicas: 5"));
        let root = set(yaml, "metrics.window", "2s").unwrap();
        assert_eq!(root.get("metrics").unwrap().get("window"), Some(&Node::Text("2s".into())));
    }

    #[test]
    fn a_document_inside_embedded_text_is_picked_by_kind_and_name() {
        let yaml = "istio:\n  resources: |\n    kind: VirtualService\n    metadata: {name: reviews}\n    ---\n    kind: DestinationRule\n    metadata:\n      name: reviews\n    spec:\n      trafficPolicy:\n        outlierDetection:\n          interval: 1s\n";
        let root =
            set(yaml, "istio.resources[DestinationRule/reviews].spec.trafficPolicy.outlierDetection.interval", "5s")
                .unwrap();
        let text = root.get("istio").unwrap().get("resources").unwrap().scalar_text().unwrap();
        let docs = tree::parse_stream(&text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].get("kind"), Some(&Node::Text("VirtualService".into())));
        let interval = docs[1].get("spec").unwrap().get("trafficPolicy").unwrap().get("outlierDetection").unwrap();
        assert_eq!(interval.get("interval"), Some(&Node::Text("5s".into())));
    }

    #[test]
    fn a_missing_item_or_a_bad_path_says_what_there_is() {
        let yaml = "clusters:\n  - name: a\n  - name: b\n";
        let err = set(yaml, "clusters[c].replicas", "1").unwrap_err();
        assert!(err.contains("no item [c]; there are [a], [b]"), "{err}");
        let err = set(yaml, "clusters[4].name", "x").unwrap_err();
        assert!(err.contains("there are 2 items"), "{err}");
        let err = set(yaml, "clusters.name", "x").unwrap_err();
        assert!(err.contains("is a list, so it has no field"), "{err}");
        for bad in ["", "a..b", "a[1", "a[]", "a]b"] {
            assert!(bad.parse::<FieldPath>().is_err(), "{bad:?}");
        }
    }
}
