//! The sweep's tables: `runs.csv` (one row per run, in run order: identity, knob values, every
//! metric of `summary.csv`) and `points.csv` (per point: mean, standard deviation, 95 %
//! interval and count of each metric over its replications), computed from `runs.csv` alone so
//! a merged or resumed sweep gets the very same bytes as one that ran in one go.
//!
//! A row never spans lines (knob values are written on one line), so a row is a line: files
//! are appended, resumed and merged line by line.

use std::io::BufRead;

use models::mesh::summary::RunSummary;
use sim::stats::{ConfidenceInterval, RunningStats};

use super::plan::{Plan, RunId};
use crate::columns::MetricColumns;

/// The identity columns that open every `runs.csv` row.
const IDENTITY: [&str; 4] = ["run", "point", "replication", "seed"];

/// Metric columns that hold text, not numbers (left out of `points.csv`).
const TEXT_COLUMNS: [&str; 1] = ["split_region"];

/// One CSV line (with its newline) from its cells.
pub fn csv_line(cells: &[String]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(cells).expect("writing to memory");
    String::from_utf8(writer.into_inner().expect("writing to memory")).expect("cells are text")
}

/// The shape of `runs.csv` for one sweep.
#[derive(Clone, Debug)]
pub struct RunsTable {
    knobs: Vec<String>,
    metrics: MetricColumns,
}

impl RunsTable {
    /// The table of `plan` whose points' scenarios are `metrics`' source.
    pub fn new(plan: &Plan, metrics: MetricColumns) -> RunsTable {
        RunsTable { knobs: plan.knobs.iter().map(|k| k.name.clone()).collect(), metrics }
    }

    /// The header line.
    pub fn header(&self) -> String {
        let mut cells: Vec<String> = IDENTITY.iter().map(|s| s.to_string()).collect();
        cells.extend(self.knobs.iter().cloned());
        cells.extend(self.metrics.header());
        csv_line(&cells)
    }

    /// The line of one finished run.
    pub fn row(&self, plan: &Plan, id: RunId, summary: &RunSummary) -> String {
        let mut cells = vec![id.run.to_string(), id.point.to_string(), id.replication.to_string(), id.seed.to_string()];
        cells.extend(plan.point_values(id.point));
        cells.extend(self.metrics.cells(summary));
        csv_line(&cells)
    }
}

/// The run number a `runs.csv` line starts with.
pub fn run_of_line(line: &str) -> Option<u64> {
    line.split(',').next()?.parse().ok()
}

/// Writes `points.csv` from the lines of a complete `runs.csv`, one point at a time.
pub fn points_csv(runs: impl BufRead, knob_count: usize) -> Result<Vec<u8>, String> {
    let mut reader = csv::ReaderBuilder::new().from_reader(runs);
    let header: Vec<String> = reader.headers().map_err(|e| e.to_string())?.iter().map(str::to_owned).collect();
    let first_metric = IDENTITY.len() + knob_count;
    if header.len() < first_metric {
        return Err("runs.csv has fewer columns than its sweep's knobs".into());
    }
    let metrics: Vec<usize> =
        (first_metric..header.len()).filter(|&c| !TEXT_COLUMNS.contains(&header[c].as_str())).collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut head: Vec<String> = vec!["point".into()];
    head.extend(header[IDENTITY.len()..first_metric].iter().cloned());
    head.push("replications".into());
    for &c in &metrics {
        for suffix in ["mean", "sd", "ci_low", "ci_high", "n"] {
            head.push(format!("{}:{suffix}", header[c]));
        }
    }
    out.write_record(&head).map_err(|e| e.to_string())?;
    let mut current: Option<(String, Vec<String>, Vec<RunningStats>, u64)> = None;
    let flush = |out: &mut csv::Writer<Vec<u8>>,
                 (point, knobs, stats, count): (String, Vec<String>, Vec<RunningStats>, u64)| {
        let mut row = vec![point];
        row.extend(knobs);
        row.push(count.to_string());
        for s in &stats {
            let number = |v: f64| format!("{v:.6}");
            match (s.count(), ConfidenceInterval::student_t(s, 0.95)) {
                (0, _) => row.extend(std::iter::repeat_n(String::new(), 4)),
                (_, Some(ci)) => {
                    row.extend([number(s.mean()), number(s.sample_std_dev()), number(ci.low()), number(ci.high())])
                }
                (_, None) => row.extend([number(s.mean()), String::new(), String::new(), String::new()]),
            }
            row.push(s.count().to_string());
        }
        out.write_record(&row).map_err(|e| e.to_string())
    };
    for record in reader.records() {
        let record = record.map_err(|e| format!("runs.csv: {e}"))?;
        let point = record.get(1).unwrap_or_default().to_owned();
        if current.as_ref().is_some_and(|(p, ..)| *p != point) {
            flush(&mut out, current.take().expect("checked"))?;
        }
        let entry = current.get_or_insert_with(|| {
            let knobs = (IDENTITY.len()..first_metric).map(|c| record.get(c).unwrap_or_default().to_owned()).collect();
            (point.clone(), knobs, vec![RunningStats::default(); metrics.len()], 0)
        });
        entry.3 += 1;
        for (stats, &c) in entry.2.iter_mut().zip(&metrics) {
            let cell = record.get(c).unwrap_or_default();
            if !cell.is_empty() {
                let value: f64 =
                    cell.parse().map_err(|_| format!("runs.csv: {}: {cell:?} is not a number", header[c]))?;
                if value.is_finite() {
                    stats.push(value);
                }
            }
        }
    }
    if let Some(last) = current.take() {
        flush(&mut out, last)?;
    }
    out.into_inner().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_aggregate_replications_with_intervals() {
        let runs = "run,point,replication,seed,knob,errors,split_region,latency\n\
                    0,0,0,1,1s,2,a,10\n1,0,1,9,1s,4,a,\n2,1,0,1,5s,1,b,3\n3,1,1,9,5s,1,b,5\n";
        let points = String::from_utf8(points_csv(runs.as_bytes(), 1).unwrap()).unwrap();
        let lines: Vec<&str> = points.lines().collect();
        assert_eq!(
            lines[0],
            "point,knob,replications,errors:mean,errors:sd,errors:ci_low,errors:ci_high,errors:n,latency:mean,latency:sd,latency:ci_low,latency:ci_high,latency:n"
        );
        // errors 2 and 4: mean 3, sd √2, t(0.975, 1) = 12.706 → ±12.706.
        assert!(lines[1].starts_with("0,1s,2,3.000000,1.414214,-9.706205,15.706205,2,10.000000,,,,1"), "{}", lines[1]);
        assert!(lines[2].starts_with("1,5s,2,1.000000,0.000000,1.000000,1.000000,2,4.000000"), "{}", lines[2]);
    }

    #[test]
    fn a_line_is_one_csv_record() {
        assert_eq!(csv_line(&["a".into(), "b,c".into(), "d\"e".into()]), "a,\"b,c\",\"d\"\"e\"\n");
        assert_eq!(run_of_line("17,2,1,99,x"), Some(17));
    }
}
