//! Where a field was written: the line and column of the value a [`FieldPath`] names, in the
//! file's own numbering — inside the Istio documents embedded in a scenario too — so an error or
//! a finding about `clusters[ack-hangzhou].deployments[2].replicas` or
//! `istio.resources[DestinationRule/reviews].spec.trafficPolicy.outlierDetection.interval` can
//! point at the line to change.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::path::{FieldPath, Step};

/// A line and column (both from 1) in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} column {}", self.line, self.column)
    }
}

/// A value with where it starts.
struct Located {
    at: Position,
    shape: Shape,
}

enum Shape {
    Scalar(String),
    Seq(Vec<Located>),
    Map(Vec<(String, Located)>),
}

impl<'de> Deserialize<'de> for Located {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Shape>::deserialize(deserializer)?;
        let at = Position { line: spanned.referenced.line(), column: spanned.referenced.column() };
        Ok(Located { at, shape: spanned.value })
    }
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Scalar(String::new()))
    }
    fn visit_none<E>(self) -> Result<Shape, E> {
        Ok(Shape::Scalar(String::new()))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        Shape::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Shape, E> {
        Ok(Shape::Scalar(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Shape, E> {
        Ok(Shape::Scalar(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Shape, E> {
        Ok(Shape::Scalar(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Shape, E> {
        Ok(Shape::Scalar(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Shape, E> {
        Ok(Shape::Scalar(v.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Shape::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Shape>()? {
            let Shape::Scalar(key) = key else { return Err(de::Error::custom("a mapping key must be a scalar")) };
            entries.push((key, map.next_value()?));
        }
        Ok(Shape::Map(entries))
    }
}

impl Located {
    fn get(&self, key: &str) -> Option<&Located> {
        match &self.shape {
            Shape::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn text(&self) -> Option<&str> {
        match &self.shape {
            Shape::Scalar(text) => Some(text),
            _ => None,
        }
    }

    /// An item's name: `Kind/name` for a Kubernetes document, else its `name`.
    fn name(&self) -> Option<String> {
        if let (Some(kind), Some(name)) = (
            self.get("kind").and_then(Located::text),
            self.get("metadata").and_then(|m| m.get("name")).and_then(Located::text),
        ) {
            return Some(format!("{kind}/{name}"));
        }
        self.get("name").and_then(Located::text).map(str::to_owned)
    }
}

/// Where the field `path` names was written in `text` (a YAML file); `None` when it is not
/// there (a default) or the text does not read.
pub fn locate(text: &str, path: &FieldPath) -> Option<Position> {
    let root: Located = serde_saphyr::from_str_with_options(text, crate::input::yaml_options()).ok()?;
    walk(&root, path.steps(), text)
}

fn walk(node: &Located, steps: &[Step], text: &str) -> Option<Position> {
    let Some((step, rest)) = steps.split_first() else { return Some(node.at) };
    match (step, &node.shape) {
        (Step::Key(key), Shape::Map(_)) => walk(node.get(key)?, rest, text),
        (Step::Index(i), Shape::Seq(items)) => walk(items.get(*i)?, rest, text),
        (Step::Named(name), Shape::Seq(items)) => {
            walk(items.iter().find(|item| item.name().as_deref() == Some(name.as_str()))?, rest, text)
        }
        (Step::Index(_) | Step::Named(_), Shape::Scalar(inner)) => {
            // Embedded documents: located within the text, then moved to where it starts.
            let docs: Vec<Located> =
                serde_saphyr::from_multiple_with_options(inner, crate::input::yaml_options()).ok()?;
            let docs = Located { at: node.at, shape: Shape::Seq(docs) };
            let found = walk(&docs, steps, inner)?;
            let indent = text
                .lines()
                .nth(node.at.line.saturating_sub(1) as usize)
                .map_or(0, |line| line.len() - line.trim_start().len()) as u64;
            Some(Position { line: node.at.line + found.line - 1, column: found.column + indent })
        }
        _ => None,
    }
}

/// The field path of the value written nearest after `at` on its line (a key's value, for an
/// error at the key), or else of the last value starting before it: names the field a reader's
/// error points at. `None` when the text does not read as YAML.
pub fn path_near(text: &str, at: Position) -> Option<String> {
    let root: Located = serde_saphyr::from_str_with_options(text, crate::input::yaml_options()).ok()?;
    let mut best: Option<(Position, String)> = None;
    let mut on_line: Option<(Position, String)> = None;
    visit(&root, &mut String::new(), &mut |node_at, path| {
        if node_at.line == at.line && node_at.column >= at.column && on_line.as_ref().is_none_or(|(p, _)| node_at < *p)
        {
            on_line = Some((node_at, path.to_owned()));
        }
        if node_at <= at && best.as_ref().is_none_or(|(p, _)| node_at >= *p) {
            best = Some((node_at, path.to_owned()));
        }
    });
    on_line.or(best).map(|(_, path)| path).filter(|p| !p.is_empty())
}

/// Calls `seen` with every value's position and path.
fn visit(node: &Located, path: &mut String, seen: &mut impl FnMut(Position, &str)) {
    seen(node.at, path);
    match &node.shape {
        Shape::Scalar(_) => {}
        Shape::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                match item.name() {
                    Some(name) => path.push_str(&format!("[{name}]")),
                    None => path.push_str(&format!("[{i}]")),
                }
                visit(item, path, seen);
                path.truncate(len);
            }
        }
        Shape::Map(entries) => {
            for (key, value) in entries {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                visit(value, path, seen);
                path.truncate(len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, path: &str) -> Option<String> {
        locate(text, &path.parse().unwrap()).map(|p| p.to_string())
    }

    #[test]
    fn fields_are_found_on_their_line() {
        let text =
            std::fs::read_to_string(format!("{}/scenarios/seed-failover.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
        assert_eq!(at(&text, "duration"), Some(format!("line {} column 11", line_of("duration: 30s"))));
        let replicas = at(&text, "clusters[ack-shanghai].deployments[2].replicas").unwrap();
        assert!(replicas.starts_with(&format!("line {} ", line_of("reviews, version: v2"))), "{replicas}");
        let interval =
            at(&text, "istio.resources[DestinationRule/reviews].spec.trafficPolicy.outlierDetection.interval").unwrap();
        assert_eq!(interval, format!("line {} column 21", line_of("interval: 1s")));
        assert_eq!(at(&text, "metrics.nothing"), None);
        let replicas_line = line_of("reviews, version: v2") as u64;
        assert_eq!(
            path_near(&text, Position { line: replicas_line, column: 1 }).as_deref(),
            Some("clusters[ack-shanghai].deployments[2]")
        );
        assert_eq!(
            path_near(&text, Position { line: line_of("duration: 30s") as u64, column: 1 }).as_deref(),
            Some("duration")
        );
        assert_eq!(at(&text, "clusters[ack-beijing].name"), None);
    }
}
