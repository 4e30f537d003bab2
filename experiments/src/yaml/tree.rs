//! A scenario as a plain YAML tree, so a sweep can change any field by its path and write the
//! result back as YAML for the scenario reader, which then checks it like any file.
//!
//! Reading uses YAML 1.2's booleans (`true`/`false` only), so words such as `on` or `n` stay
//! text. Numbers keep the digits they were written with; text is written back plain when it
//! reads back as the same text, quoted otherwise; multi-line text (the embedded Istio
//! resources) as a literal block.

use std::fmt;
use std::fmt::Write as _;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// A YAML value.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as its digits.
    Number(String),
    /// Text.
    Text(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in written order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a scalar as a person reads it (`1s`, `3`, `true`); `None` for collections.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Node::Null => Some("null".into()),
            Node::Bool(b) => Some(b.to_string()),
            Node::Number(n) => Some(n.clone()),
            Node::Text(t) => Some(t.clone()),
            Node::Seq(_) | Node::Map(_) => None,
        }
    }

    /// Short one-line form for messages and CSV cells: scalars as their text, collections in
    /// flow style.
    pub fn inline(&self) -> String {
        match self {
            Node::Seq(items) => format!("[{}]", items.iter().map(Node::inline).collect::<Vec<_>>().join(", ")),
            Node::Map(entries) => format!(
                "{{{}}}",
                entries.iter().map(|(k, v)| format!("{k}: {}", v.inline())).collect::<Vec<_>>().join(", ")
            ),
            scalar => scalar.scalar_text().unwrap_or_default(),
        }
    }
}

/// Reading options: YAML 1.2 booleans, so `on`/`yes`/`n` stay text as the typed reader sees them.
fn options() -> serde_saphyr::Options {
    let mut options = crate::input::yaml_options();
    options.strict_booleans = true;
    options
}

/// Reads one YAML document.
pub fn parse(text: &str) -> Result<Node, String> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| e.to_string())
}

/// Reads a stream of `---`-separated documents (empty ones skipped).
pub fn parse_stream(text: &str) -> Result<Vec<Node>, String> {
    let docs: Vec<Node> = serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().filter(|d| *d != Node::Null).collect())
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.to_string()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Number(v.to_string()))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Number(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Number(format_float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Text(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Text(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let key = key.scalar_text().ok_or_else(|| de::Error::custom("a mapping key must be a scalar"))?;
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// A float as YAML writes it: `.inf`, `.nan`, or the shortest digits that read back exactly.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        ".nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { ".inf".into() } else { "-.inf".into() }
    } else {
        format!("{v:?}")
    }
}

/// Writes the tree as a block-style YAML document.
pub fn emit(node: &Node) -> String {
    let mut out = String::new();
    match node {
        Node::Map(_) | Node::Seq(_) => emit_block(node, 0, &mut out),
        scalar => {
            out.push_str(&scalar_yaml(scalar, 0));
            out.push('\n');
        }
    }
    out
}

/// Writes a stream of documents separated by `---`.
pub fn emit_stream(docs: &[Node]) -> String {
    docs.iter().map(emit).collect::<Vec<_>>().join("---\n")
}

fn emit_block(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Map(entries) => {
            for (key, value) in entries {
                let _ = write!(out, "{pad}{}:", text_yaml(key, indent));
                emit_value(value, indent, out);
            }
        }
        Node::Seq(items) => {
            for item in items {
                match item {
                    Node::Map(entries) if !entries.is_empty() => {
                        // The first entry goes on the dash's line.
                        let mut inner = String::new();
                        emit_block(item, indent + 2, &mut inner);
                        out.push_str(&pad);
                        out.push_str("- ");
                        out.push_str(&inner[indent + 2..]);
                    }
                    Node::Seq(inner_items) if !inner_items.is_empty() => {
                        out.push_str(&pad);
                        out.push_str("-\n");
                        emit_block(item, indent + 2, out);
                    }
                    _ => {
                        out.push_str(&pad);
                        out.push('-');
                        emit_value(item, indent, out);
                    }
                }
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&scalar_yaml(scalar, indent));
            out.push('\n');
        }
    }
}

/// The rest of a line after `key:` or `-`, and any lines below it.
fn emit_value(value: &Node, indent: usize, out: &mut String) {
    match value {
        Node::Map(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Node::Seq(items) if items.is_empty() => out.push_str(" []\n"),
        Node::Map(_) | Node::Seq(_) => {
            out.push('\n');
            emit_block(value, indent + 2, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_yaml(scalar, indent + 2));
            out.push('\n');
        }
    }
}

fn scalar_yaml(node: &Node, indent: usize) -> String {
    match node {
        Node::Null => "null".into(),
        Node::Bool(b) => b.to_string(),
        Node::Number(n) => n.clone(),
        Node::Text(t) => text_yaml(t, indent),
        Node::Seq(_) | Node::Map(_) => unreachable!("collections are written as blocks"),
    }
}

/// Text as YAML: plain when it reads back as the same text, a literal block when it spans
/// lines, double-quoted otherwise.
fn text_yaml(text: &str, indent: usize) -> String {
    if reads_back_plain(text) {
        return text.to_owned();
    }
    let printable = text.chars().all(|c| c == '\n' || !c.is_control());
    if text.contains('\n') && printable && !text.starts_with([' ', '\n']) && !text.trim_end_matches('\n').is_empty() {
        let body = text.trim_end_matches('\n');
        let chomp = match text.len() - body.len() {
            0 => "-",
            1 => "",
            _ => "+",
        };
        let pad = " ".repeat(indent);
        let mut out = format!("|{chomp}");
        for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
                out.push_str(line);
            }
        }
        return out;
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `text` written without quotes reads back as the same text (not a number, boolean,
/// null, or something YAML gives meaning to).
fn reads_back_plain(text: &str) -> bool {
    let Some(first) = text.chars().next() else { return false };
    let safe_char = |c: char| c.is_alphanumeric() || "_./-+*() ".contains(c);
    let lower = text.to_ascii_lowercase();
    (first.is_alphanumeric() || first == '_' || first == '/')
        && text.chars().all(safe_char)
        && !text.ends_with(' ')
        && !text.contains("  ")
        && !["true", "false", "yes", "no", "y", "n", "on", "off", "null", "~"].contains(&lower.as_str())
        && !lower.starts_with("0x")
        && !lower.starts_with("0o")
        && text.parse::<f64>().is_err()
        && !lower.trim_start_matches(['+', '-']).starts_with(".inf")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_scenario_reads_back_as_the_same_tree() {
        for name in ["seed-failover", "region-outage", "pod-503-keep-endpoints", "seed-distribute"] {
            let path = format!("{}/scenarios/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
            let tree = parse(&std::fs::read_to_string(path).unwrap()).unwrap();
            let written = emit(&tree);
            assert_eq!(parse(&written).unwrap(), tree, "{name}:\n{written}");
        }
    }

    #[test]
    fn text_that_looks_like_something_else_is_quoted() {
        let tree = Node::Map(
            ["1.40", "true", "on", "n", "100", "1e3", "", " x", "a: b", "#c", "*x", "null", "-.inf", "full stars"]
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("k{i}"), Node::Text(t.to_string())))
                .collect(),
        );
        let written = emit(&tree);
        assert!(written.contains("k0: \"1.40\"") && written.contains("k13: full stars"), "{written}");
        assert_eq!(parse(&written).unwrap(), tree, "{written}");
    }

    #[test]
    fn embedded_documents_survive_as_a_literal_block() {
        let text = "a:\n  b: |\n    kind: DestinationRule\n    spec:\n      host: reviews\n\n    ---\n    x: 1\n";
        let tree = parse(text).unwrap();
        let written = emit(&tree);
        assert!(written.contains("b: |\n"), "{written}");
        assert_eq!(parse(&written).unwrap(), tree);
        let docs = parse_stream(tree.get("a").unwrap().get("b").unwrap().scalar_text().unwrap().as_str()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(parse_stream(&emit_stream(&docs)).unwrap(), docs);
    }

    fn arbitrary_node() -> impl Strategy<Value = Node> {
        let leaf = prop_oneof![
            Just(Node::Null),
            any::<bool>().prop_map(Node::Bool),
            any::<i64>().prop_map(|n| Node::Number(n.to_string())),
            "[ -~]{0,12}".prop_map(Node::Text),
            "[a-z]{1,6}(\n[ a-z]{0,6}){1,3}\n{0,2}".prop_map(Node::Text),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Node::Seq),
                prop::collection::vec(("[a-z][a-z0-9_]{0,5}", inner), 0..4).prop_map(|entries| {
                    let mut seen = std::collections::HashSet::new();
                    Node::Map(entries.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn writing_then_reading_gives_the_same_tree(node in arbitrary_node()) {
            let root = Node::Map(vec![("root".into(), node)]);
            let written = emit(&root);
            prop_assert_eq!(parse(&written).map_err(|e| format!("{e}\n{written}")), Ok(root));
        }
    }
}
