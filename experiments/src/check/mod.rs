//! `meshsim check`: the traps in a configuration that make a mesh behave otherwise than its
//! owners expect — failover that never happens, ejections that are refused, a split that drops
//! a region, a backbone too thin for the traffic after failover — found before anything runs,
//! each with what goes wrong at run time and the fix. The rules are the ones users trip over
//! (`shared/spec/user-questions.md` §2); `rules` has one function per rule.
//!
//! Input errors (a value out of range, a reference to nothing, what istiod itself rejects) are
//! not findings: the scenario reader refuses them first, and `check` exits with 2 like `run`.

pub mod rules;

use std::fmt::Write as _;

use crate::output::json_string;
use crate::scenario::Scenario;
use crate::yaml::locate::{Position, locate};
use crate::yaml::path::FieldPath;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// What the configuration intends will not happen.
    Error,
    /// It will happen, at a cost worth knowing.
    Warning,
    /// For information.
    Info,
}

impl Severity {
    fn word(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One trap found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// The rule's name, e.g. `failover-without-outlier-detection`.
    pub rule: &'static str,
    /// The field it concerns.
    pub path: String,
    /// Where that field was written, when it was.
    pub at: Option<Position>,
    /// What goes wrong at run time.
    pub message: String,
    /// What to change.
    pub fix: String,
}

/// Everything `check` found in one scenario file.
#[derive(Clone, Debug)]
pub struct Report {
    /// The file.
    pub source: String,
    /// Findings, errors first, then in rule order.
    pub findings: Vec<Finding>,
}

/// Checks a scenario read from `text` (its file's text, for lines).
pub fn check(scenario: &Scenario, source: &str) -> Report {
    let mut findings = rules::all(scenario);
    for finding in &mut findings {
        finding.at = position(&scenario.text, &finding.path);
    }
    findings.sort_by_key(|f| f.severity);
    Report { source: source.to_owned(), findings }
}

/// Where `path` was written, or else the nearest field above it that was (a field left at its
/// default points at the block it would go in).
fn position(text: &str, path: &str) -> Option<Position> {
    let mut path = path;
    loop {
        if let Some(at) = path.parse::<FieldPath>().ok().and_then(|p| locate(text, &p)) {
            return Some(at);
        }
        path = &path[..path.rfind('.')?];
    }
}

impl Report {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The findings for people, one block each.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let at = f.at.map_or(String::new(), |at| format!("{at}: "));
            let _ = writeln!(out, "{}: {}: {at}{}: {} [{}]", f.severity.word(), self.source, f.path, f.message, f.rule);
            let _ = writeln!(out, "  fix: {}", f.fix);
        }
        let count = |s: Severity| self.findings.iter().filter(|f| f.severity == s).count();
        let _ = writeln!(
            out,
            "{}: {} errors, {} warnings, {} notes",
            self.source,
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info)
        );
        out
    }

    /// The findings as JSON.
    pub fn json(&self) -> String {
        let findings: Vec<String> = self
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{{\"severity\":{},\"rule\":{},\"file\":{},\"line\":{},\"column\":{},\"path\":{},\"message\":{},\"fix\":{}}}",
                    json_string(f.severity.word()),
                    json_string(f.rule),
                    json_string(&self.source),
                    f.at.map_or("null".into(), |a| a.line.to_string()),
                    f.at.map_or("null".into(), |a| a.column.to_string()),
                    json_string(&f.path),
                    json_string(&f.message),
                    json_string(&f.fix)
                )
            })
            .collect();
        format!("{{\"file\":{},\"findings\":[{}]}}", json_string(&self.source), findings.join(","))
    }
}
