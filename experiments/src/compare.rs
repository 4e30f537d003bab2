//! `meshsim compare A B`: two configurations under the very same failures and random numbers.
//!
//! Replication `r` of both runs with the same seed (common random numbers: the arrivals,
//! service times and faults are the same draws), so the difference of a metric within a
//! replication is the settings' doing, not the noise's. Each metric gets the mean of its paired
//! differences `B − A` with a Student-t 95 % interval, and a verdict: a direction when the
//! interval excludes zero, "no significant difference" otherwise.
//!
//! B is a scenario file, or an override file that changes fields of A by their paths:
//!
//! ```yaml
//! name: five-errors        # optional, names B in the output
//! overrides:
//!   istio.resources[DestinationRule/reviews].spec.trafficPolicy.outlierDetection.consecutive5xxErrors: 5
//! ```

use std::fmt::Write as _;
use std::path::Path;

use sim::stats::{ConfidenceInterval, RunningStats};

use crate::columns::MetricColumns;
use crate::output::{json_number, json_string};
use crate::run::{Replication, run};
use crate::scenario::{self, Scenario};
use crate::yaml::path::FieldPath;
use crate::yaml::tree::{self, Node};

/// Metric columns that are text, not numbers.
const TEXT_METRICS: [&str; 1] = ["split_region"];

/// One metric's paired comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricComparison {
    /// Column name, as in `summary.csv`.
    pub metric: String,
    /// Mean over A's replications that have a value (NaN when none has).
    pub a_mean: f64,
    /// Same for B.
    pub b_mean: f64,
    /// Mean paired difference B − A.
    pub difference: f64,
    /// Its 95 % interval (`None` with fewer than two pairs).
    pub interval: Option<(f64, f64)>,
    /// Pairs where both had a value.
    pub pairs: u64,
    /// The sentence for people.
    pub verdict: String,
}

/// A finished comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// A's name.
    pub a: String,
    /// B's name.
    pub b: String,
    /// Replications run.
    pub replications: u64,
    /// One entry per metric either side reported.
    pub metrics: Vec<MetricComparison>,
}

/// Reads B: a scenario, or overrides applied to A's file.
pub fn load_b(a_path: &Path, b_path: &Path) -> Result<Scenario, String> {
    let text = crate::input::read_text(b_path, "scenario B")?;
    let b_source = b_path.display().to_string();
    let tree = tree::parse(&text).map_err(|e| format!("{b_source}: {e}"))?;
    let Some(overrides) = tree.get("overrides") else {
        return scenario::parse(&text, &b_source, b_path.parent().unwrap_or(Path::new(".")));
    };
    if let Node::Map(entries) = &tree
        && let Some((key, _)) = entries.iter().find(|(k, _)| k != "overrides" && k != "name")
    {
        return Err(format!("{b_source}: {key}: an override file has only name and overrides"));
    }
    let Node::Map(overrides) = overrides else {
        return Err(format!("{b_source}: overrides: write a mapping from field paths to values"));
    };
    let a_text = crate::input::read_text(a_path, "scenario A")?;
    let mut base = tree::parse(&a_text).map_err(|e| format!("{}: {e}", a_path.display()))?;
    for (path, value) in overrides {
        let path: FieldPath = path.parse().map_err(|e| format!("{b_source}: overrides: {e}"))?;
        path.set(&mut base, value.clone()).map_err(|e| format!("{b_source}: overrides.{e}"))?;
    }
    let name = match tree.get("name") {
        Some(Node::Text(name)) => name.clone(),
        _ => b_path.file_stem().map_or("B".into(), |s| s.to_string_lossy().into_owned()),
    };
    if let Node::Map(entries) = &mut base {
        for (key, value) in entries.iter_mut() {
            if key == "name" {
                *value = Node::Text(name.clone());
            }
        }
    }
    scenario::parse(
        &tree::emit(&base),
        &format!("{} with {b_source}", a_path.display()),
        a_path.parent().unwrap_or(Path::new(".")),
    )
}

/// Runs both with the same `replications` seeds from `seed` and compares every metric.
pub fn compare(a: &Scenario, b: &Scenario, seed: u64, replications: u64) -> Result<Comparison, String> {
    let (a_runs, b_runs) = (run(a, seed, replications)?, run(b, seed, replications)?);
    let columns = MetricColumns::of_scenarios([a, b].into_iter());
    let header = columns.header();
    let cells = |runs: &[Replication]| -> Vec<Vec<String>> { runs.iter().map(|r| columns.cells(&r.summary)).collect() };
    let (a_cells, b_cells) = (cells(&a_runs), cells(&b_runs));
    let mut metrics = Vec::new();
    for (c, metric) in header.iter().enumerate().filter(|(_, m)| !TEXT_METRICS.contains(&m.as_str())) {
        let (mut a_stats, mut b_stats, mut diffs) =
            (RunningStats::default(), RunningStats::default(), RunningStats::default());
        let finite = |cell: &str| cell.parse::<f64>().ok().filter(|v| v.is_finite());
        for (a_row, b_row) in a_cells.iter().zip(&b_cells) {
            let (x, y) = (finite(&a_row[c]), finite(&b_row[c]));
            x.into_iter().for_each(|x| a_stats.push(x));
            y.into_iter().for_each(|y| b_stats.push(y));
            if let (Some(x), Some(y)) = (x, y) {
                diffs.push(y - x);
            }
        }
        let (any_a, any_b) = (a_stats.count() > 0, b_stats.count() > 0);
        if !any_a && !any_b {
            continue;
        }
        let interval = ConfidenceInterval::student_t(&diffs, 0.95).map(|ci| (ci.low(), ci.high()));
        let mut entry = MetricComparison {
            metric: metric.clone(),
            a_mean: a_stats.mean(),
            b_mean: b_stats.mean(),
            difference: diffs.mean(),
            interval,
            pairs: diffs.count(),
            verdict: String::new(),
        };
        entry.verdict = verdict(&entry, any_a, any_b);
        metrics.push(entry);
    }
    Ok(Comparison { a: a.name.clone(), b: b.name.clone(), replications, metrics })
}

/// How a metric is spoken of: (what B does, word when lower, word when higher, unit, scale).
fn phrasing(metric: &str) -> (String, &'static str, &'static str, &'static str, f64) {
    match metric {
        "time_to_shift_s" => ("B fails over".into(), "sooner", "later", "s", 1.0),
        "time_to_first_ejection_s" => ("B ejects the first failing host".into(), "sooner", "later", "s", 1.0),
        "time_to_recover_slo_s" => ("B recovers its SLO".into(), "sooner", "later", "s", 1.0),
        "failback_s" => ("B fails back".into(), "sooner", "later", "s", 1.0),
        "error_rate" => ("B's users see".into(), "fewer errors", "more errors", " points", 100.0),
        m if m.ends_with("_ms") => {
            (format!("B's {}", m.trim_end_matches("_ms").replace('_', " ")), "lower", "higher", " ms", 1.0)
        }
        m => (format!("B's {m}"), "lower", "higher", "", 1.0),
    }
}

fn verdict(m: &MetricComparison, any_a: bool, any_b: bool) -> String {
    if m.pairs == 0 {
        let only = if any_a {
            "only A"
        } else if any_b {
            "only B"
        } else {
            "neither"
        };
        return format!("{}: {only} has a value", m.metric);
    }
    let (subject, lower, higher, unit, scale) = phrasing(&m.metric);
    match m.interval {
        Some((low, high)) if low == 0.0 && high == 0.0 => format!("{}: no difference in any replication", m.metric),
        Some((low, high)) if low > 0.0 || high < 0.0 => {
            let word = if m.difference < 0.0 { lower } else { higher };
            let (a, b) = ((low.abs().min(high.abs())) * scale, (low.abs().max(high.abs())) * scale);
            let amount = m.difference.abs() * scale;
            if unit == "s" {
                format!("{subject} {amount:.3} s {word}, 95% CI {a:.3}-{b:.3} s")
            } else {
                format!("{subject} {amount:.3}{unit} {word}, 95% CI {a:.3}-{b:.3}{unit}")
            }
        }
        Some(_) => format!("{}: no significant difference", m.metric),
        None => format!("{}: one pair only; run more replications", m.metric),
    }
}

impl Comparison {
    /// The table for people.
    pub fn table(&self) -> String {
        let mut t = format!(
            "compare {} (A) with {} (B): {} replications, same seeds (common random numbers)\n",
            self.a, self.b, self.replications
        );
        let _ = writeln!(t, "{:<52} {:>12} {:>12} {:>12} {:>24}", "metric", "A mean", "B mean", "B - A", "95% CI");
        for m in &self.metrics {
            let ci = m.interval.map_or("-".into(), |(l, h)| format!("{l:.4} .. {h:.4}"));
            let number = |v: f64| if v.is_finite() { format!("{v:.4}") } else { "-".into() };
            let _ = writeln!(
                t,
                "{:<52} {:>12} {:>12} {:>12} {:>24}",
                m.metric,
                number(m.a_mean),
                number(m.b_mean),
                number(m.difference),
                ci
            );
        }
        t.push_str("verdicts:\n");
        for m in &self.metrics {
            let _ = writeln!(t, "  {}", m.verdict);
        }
        t
    }

    /// The same as JSON.
    pub fn json(&self) -> String {
        let metrics: Vec<String> = self
            .metrics
            .iter()
            .map(|m| {
                format!(
                    "{{\"metric\":{},\"a_mean\":{},\"b_mean\":{},\"difference\":{},\"ci_low\":{},\"ci_high\":{},\"pairs\":{},\"significant\":{},\"verdict\":{}}}",
                    json_string(&m.metric),
                    json_number(Some(m.a_mean)),
                    json_number(Some(m.b_mean)),
                    json_number(Some(m.difference)),
                    json_number(m.interval.map(|i| i.0)),
                    json_number(m.interval.map(|i| i.1)),
                    m.pairs,
                    m.interval.is_some_and(|(l, h)| l > 0.0 || h < 0.0),
                    json_string(&m.verdict)
                )
            })
            .collect();
        format!(
            "{{\"a\":{},\"b\":{},\"replications\":{},\"metrics\":[{}]}}",
            json_string(&self.a),
            json_string(&self.b),
            self.replications,
            metrics.join(",")
        )
    }
}
