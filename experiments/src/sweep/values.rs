//! The values a knob takes: a list as written, or a range — `from/to/step`, or `from/to/count`
//! spaced evenly or on a log scale — over plain numbers, durations (`1s`) or bandwidths
//! (`10Mbps`). Range values are written back in the same unit style, so a run's row shows
//! `2.5s`, not a count of nanoseconds.

use sim::SimDuration;

use crate::scenario::units::Bandwidth;
use crate::yaml::tree::{Node, format_float};

/// The most values one knob may take (a guard against a step of zero or a typo in `count`).
pub const MAX_VALUES: usize = 100_000;

/// A quantity a range runs over.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Quantity {
    Integer(i64),
    Real(f64),
    Duration(SimDuration),
    Bandwidth(u64),
}

impl Quantity {
    fn read(node: &Node, field: &str) -> Result<Quantity, String> {
        match node {
            Node::Number(n) => match n.parse::<i64>() {
                Ok(i) => Ok(Quantity::Integer(i)),
                Err(_) => n.parse::<f64>().map(Quantity::Real).map_err(|_| format!("{field}: {n} is not a number")),
            },
            Node::Text(text) => match (text.parse::<SimDuration>(), Bandwidth::parse(text)) {
                (Ok(d), _) => Ok(Quantity::Duration(d)),
                (_, Ok(b)) => Ok(Quantity::Bandwidth(b.0)),
                _ => Err(format!(
                    "{field}: {text:?} is neither a number, a duration (250ms, 1s) nor a bandwidth (10Mbps)"
                )),
            },
            other => Err(format!("{field}: {} is not a number, duration or bandwidth", other.inline())),
        }
    }

    /// The quantity as a plain number, in the unit's base (ns, bit/s).
    fn magnitude(self) -> f64 {
        match self {
            Quantity::Integer(i) => i as f64,
            Quantity::Real(r) => r,
            Quantity::Duration(d) => d.as_nanos() as f64,
            Quantity::Bandwidth(b) => b as f64,
        }
    }

    fn same_kind(self, other: Quantity) -> bool {
        use Quantity::*;
        matches!(
            (self, other),
            (Integer(_) | Real(_), Integer(_) | Real(_)) | (Duration(_), Duration(_)) | (Bandwidth(_), Bandwidth(_))
        )
    }

    /// A quantity of this kind with the given magnitude (rounded for whole units).
    fn with_magnitude(self, value: f64, integral: bool) -> Quantity {
        match self {
            Quantity::Integer(_) | Quantity::Real(_) if integral => Quantity::Integer(value.round() as i64),
            Quantity::Integer(_) | Quantity::Real(_) => Quantity::Real(value),
            Quantity::Duration(_) => Quantity::Duration(SimDuration::from_nanos(value.round() as u64)),
            Quantity::Bandwidth(_) => Quantity::Bandwidth(value.round() as u64),
        }
    }

    fn to_node(self) -> Node {
        match self {
            Quantity::Integer(i) => Node::Number(i.to_string()),
            Quantity::Real(r) => Node::Number(format_float(r)),
            Quantity::Duration(d) => Node::Text(d.to_string()),
            Quantity::Bandwidth(b) => Node::Text(format_bandwidth(b)),
        }
    }
}

/// A bandwidth in the largest unit that writes it exactly: `10Mbps`, `1.5Gbps`, `2500bps`.
pub fn format_bandwidth(bps: u64) -> String {
    if bps == 0 {
        return "none".into();
    }
    for (scale, unit) in [(1_000_000_000, "Gbps"), (1_000_000, "Mbps"), (1_000, "kbps")] {
        if bps >= scale && (bps * 1000).is_multiple_of(scale) {
            return format!("{}{unit}", format_float(bps as f64 / scale as f64).trim_end_matches(".0"));
        }
    }
    format!("{bps}bps")
}

/// Rounds to `digits` significant digits, so log-spaced values read as people write them.
pub fn significant(value: f64, digits: i32) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(digits - 1 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

/// The values described by a knob's specification (`vary.<path>` in the sweep file).
pub fn expand(spec: &Node, field: &str) -> Result<Vec<Node>, String> {
    let values = match spec {
        Node::Seq(items) => items.clone(),
        Node::Map(entries) => {
            let get = |key: &str| spec.get(key);
            for (key, _) in entries {
                if !["values", "from", "to", "step", "count", "scale", "name", "paths", "with"].contains(&key.as_str())
                {
                    return Err(format!(
                        "{field}: unknown field {key:?}; a knob has values, or from/to with step or count (and scale: linear|log), an optional name, paths when it sets several fields, with for fields that move with it"
                    ));
                }
            }
            match (get("values"), get("from"), get("to")) {
                (Some(Node::Seq(items)), None, None) => items.clone(),
                (Some(_), None, None) => return Err(format!("{field}.values: write a list, e.g. [1s, 5s, 10s]")),
                (None, Some(from), Some(to)) => range(
                    Quantity::read(from, &format!("{field}.from"))?,
                    Quantity::read(to, &format!("{field}.to"))?,
                    get("step"),
                    get("count"),
                    get("scale"),
                    field,
                )?,
                _ => return Err(format!("{field}: give either values: [...] or from and to")),
            }
        }
        scalar => vec![scalar.clone()],
    };
    if values.is_empty() {
        return Err(format!("{field}: no values"));
    }
    if values.len() > MAX_VALUES {
        return Err(format!("{field}: {} values, over the limit of {MAX_VALUES}", values.len()));
    }
    Ok(values)
}

fn range(
    from: Quantity,
    to: Quantity,
    step: Option<&Node>,
    count: Option<&Node>,
    scale: Option<&Node>,
    field: &str,
) -> Result<Vec<Node>, String> {
    if !from.same_kind(to) {
        return Err(format!("{field}: from and to must be of the same kind (both durations, bandwidths or numbers)"));
    }
    let integral = matches!((from, to), (Quantity::Integer(_), Quantity::Integer(_)));
    let (low, high) = (from.magnitude(), to.magnitude());
    if !(low.is_finite() && high.is_finite()) || high < low {
        return Err(format!("{field}: from must not be above to"));
    }
    let log = match scale {
        None => false,
        Some(Node::Text(s)) if s == "linear" => false,
        Some(Node::Text(s)) if s == "log" => true,
        Some(other) => return Err(format!("{field}.scale: {} is not linear or log", other.inline())),
    };
    let magnitudes: Vec<f64> = match (step, count) {
        (Some(step), None) => {
            if log {
                return Err(format!("{field}: a log scale takes count, not step"));
            }
            let step = Quantity::read(step, &format!("{field}.step"))?;
            let size = step.magnitude();
            if !from.same_kind(step) || size.is_nan() || size <= 0.0 {
                return Err(format!("{field}.step: must be a positive amount of the same kind as from"));
            }
            let n = ((high - low) / size * (1.0 + 1e-12)).floor() + 1.0;
            if n > MAX_VALUES as f64 {
                return Err(format!("{field}: the step gives {n} values, over the limit of {MAX_VALUES}"));
            }
            (0..n as usize).map(|i| low + i as f64 * size).collect()
        }
        (None, Some(Node::Number(n))) => {
            let n: usize = n.parse().map_err(|_| format!("{field}.count: {n} is not a whole number"))?;
            if !(1..=MAX_VALUES).contains(&n) {
                return Err(format!("{field}.count: must be between 1 and {MAX_VALUES}"));
            }
            if log && low <= 0.0 {
                return Err(format!("{field}: a log scale needs from above zero"));
            }
            let at = |i: usize| if n == 1 { 0.0 } else { i as f64 / (n - 1) as f64 };
            (0..n)
                .map(|i| if log { significant(low * (high / low).powf(at(i)), 3) } else { low + (high - low) * at(i) })
                .collect()
        }
        (None, Some(other)) => return Err(format!("{field}.count: {} is not a whole number", other.inline())),
        _ => return Err(format!("{field}: a range needs step or count (not both)")),
    };
    let values: Vec<Node> = magnitudes
        .into_iter()
        .map(|m| from.with_magnitude(if integral { m } else { significant(m, 12) }, integral).to_node())
        .collect();
    for (i, v) in values.iter().enumerate() {
        if values[..i].contains(v) {
            return Err(format!("{field}: the range gives {} twice; use fewer values", v.inline()));
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree;

    fn values(spec: &str) -> Result<Vec<String>, String> {
        Ok(expand(&tree::parse(spec).unwrap(), "vary.x")?.iter().map(Node::inline).collect())
    }

    #[test]
    fn lists_and_ranges_give_the_values_people_expect() {
        assert_eq!(values("[1s, 5s, 10s]").unwrap(), ["1s", "5s", "10s"]);
        assert_eq!(values("{from: 1, to: 10, step: 3}").unwrap(), ["1", "4", "7", "10"]);
        assert_eq!(values("{from: 0.1, to: 0.3, step: 0.1}").unwrap(), ["0.1", "0.2", "0.3"]);
        assert_eq!(values("{from: 1s, to: 2s, step: 250ms}").unwrap(), ["1s", "1.25s", "1.5s", "1.75s", "2s"]);
        assert_eq!(
            values("{from: 1Mbps, to: 1Gbps, count: 4, scale: log}").unwrap(),
            ["1Mbps", "10Mbps", "100Mbps", "1Gbps"]
        );
        assert_eq!(values("{from: 1ms, to: 1s, count: 3, scale: log}").unwrap(), ["1ms", "31.6ms", "1s"]);
        assert_eq!(values("{from: 0, to: 100, count: 5}").unwrap(), ["0", "25", "50", "75", "100"]);
        assert_eq!(values("{values: [a, b], name: letter}").unwrap(), ["a", "b"]);
    }

    #[test]
    fn bad_ranges_are_refused_with_the_reason() {
        for (spec, why) in [
            ("{from: 10s, to: 1s, step: 1s}", "not be above"),
            ("{from: 1s, to: 10s, step: 0s}", "positive"),
            ("{from: 1s, to: 10Mbps, step: 1s}", "same kind"),
            ("{from: 0, to: 10, count: 3, scale: log}", "above zero"),
            ("{from: 1, to: 2, count: 3}", "twice"),
            ("{from: 1, to: 1000000000, step: 1}", "limit"),
            ("{from: 1, to: 2}", "step or count"),
            ("{form: 1}", "unknown field"),
            ("[]", "no values"),
        ] {
            let err = values(spec).unwrap_err();
            assert!(err.contains(why), "{spec}: {err}");
        }
    }

    #[test]
    fn bandwidths_print_in_their_largest_exact_unit() {
        assert_eq!(format_bandwidth(2_000_000), "2Mbps");
        assert_eq!(format_bandwidth(1_500_000_000), "1.5Gbps");
        assert_eq!(format_bandwidth(31_600_000), "31.6Mbps");
        assert_eq!(format_bandwidth(999), "999bps");
        assert_eq!(format_bandwidth(0), "none");
    }
}
