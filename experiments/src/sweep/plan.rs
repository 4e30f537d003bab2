//! The sweep file and what it expands to: knobs, points, and runs numbered by a stable
//! enumeration.
//!
//! Points are numbered in the order the grid is written: the last knob changes fastest. Run
//! `k` is replication `k % replications` of point `k / replications`. Every point runs
//! replication `r` with the same seed — derived from the sweep seed and `r` exactly as `meshsim
//! run --replications` derives it — so points that differ only in settings see the same
//! arrivals, service times and faults (common random numbers), and a run's result depends on
//! its identity, never on the thread or shard that ran it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::values;
use crate::run::replication_seed;
use crate::scenario::{self, Scenario};
use crate::yaml::path::FieldPath;
use crate::yaml::tree::{self, Node};

/// The most runs one sweep may enumerate.
pub const MAX_RUNS: u64 = 100_000_000;

/// The sweep file, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    base: Node,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    replications: Option<u64>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    set: Option<Node>,
    vary: Node,
    #[serde(default)]
    plots: Vec<PlotDoc>,
}

/// `plots[]`: a picture the sweep draws when it ends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlotDoc {
    y: String,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    heatmap: Option<[String; 2]>,
}

/// A picture a sweep draws when it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlotSpec {
    /// Metric `y` against knob `x`, one line per value of knob `by`.
    Lines {
        /// Knob on the x axis.
        x: String,
        /// Metric.
        y: String,
        /// Knob whose values get a line each.
        by: Option<String>,
    },
    /// Metric `y` over knobs `x` (columns) and `over` (rows).
    Heatmap {
        /// Knob of the columns.
        x: String,
        /// Knob of the rows.
        over: String,
        /// Metric.
        y: String,
    },
}

/// How knobs combine into points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every combination (cartesian product).
    Grid,
    /// The i-th values of every knob together; all knobs have the same number of values.
    Zip,
}

/// One varied setting.
#[derive(Clone, Debug)]
pub struct Knob {
    /// Column name: the knob's `name`, or its path.
    pub name: String,
    /// The fields it sets, each to the same value (one, unless the knob lists `paths`).
    pub paths: Vec<FieldPath>,
    /// Its values, in order.
    pub values: Vec<Node>,
    /// Fields that move with it (`with:`): the i-th of their values goes with its i-th.
    pub companions: Vec<(FieldPath, Vec<Node>)>,
}

/// A sweep ready to run: the base scenario as a tree and the knobs over it.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Name (the output folder's).
    pub name: String,
    /// What it answers.
    pub description: String,
    /// The sweep file with its base written inline (resource files too): `sweep.yaml`.
    pub text: String,
    /// Sweep seed.
    pub seed: u64,
    /// Replications per point.
    pub replications: u64,
    /// Grid or zip.
    pub mode: Mode,
    /// The knobs, in written order.
    pub knobs: Vec<Knob>,
    /// The pictures it draws (none written: the default set).
    pub plots: Vec<PlotSpec>,
    /// Fields set to one value at every point, before the knobs.
    fixed: Vec<(FieldPath, Node)>,
    base: Node,
    base_dir: PathBuf,
    source: String,
}

/// One run's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunId {
    /// Run number (row of `runs.csv`).
    pub run: u64,
    /// Point number.
    pub point: u64,
    /// Replication of that point.
    pub replication: u64,
    /// Its seed.
    pub seed: u64,
}

impl Plan {
    /// Reads the sweep file at `path`; a relative `base` path is read from the file's folder.
    pub fn load(path: &Path) -> Result<Plan, String> {
        let text = crate::input::read_text(path, "the sweep file")?;
        Plan::parse(&text, &path.display().to_string(), path.parent().unwrap_or(Path::new(".")))
    }

    /// Reads a sweep from its text; `source` names it in errors.
    pub fn parse(text: &str, source: &str, dir: &Path) -> Result<Plan, String> {
        let file: SweepFile = serde_saphyr::from_str_with_options(text, crate::input::yaml_options())
            .map_err(|e| format!("{source}: {}", crate::input::yaml_error(&e)))?;
        let fail = |field: &str, message: String| format!("{source}: {field}: {message}");
        crate::input::check_folder_name(&file.name).map_err(|e| fail("name", e))?;
        let (mut base, base_dir) = match &file.base {
            Node::Text(relative) => {
                let path = dir.join(relative);
                let text = crate::input::read_text(&path, "the base scenario").map_err(|e| fail("base", e))?;
                let tree = tree::parse(&text).map_err(|e| fail("base", format!("{}: {e}", path.display())))?;
                (tree, path.parent().unwrap_or(Path::new(".")).to_path_buf())
            }
            Node::Map(_) => (file.base.clone(), dir.to_path_buf()),
            other => {
                return Err(fail("base", format!("{} is neither a scenario path nor a scenario", other.inline())));
            }
        };
        inline_resource_files(&mut base, &base_dir).map_err(|e| fail("base", e))?;
        let mode = match file.mode.as_deref() {
            None | Some("grid") => Mode::Grid,
            Some("zip") => Mode::Zip,
            Some(other) => return Err(fail("mode", format!("{other:?} is not grid or zip"))),
        };
        let Node::Map(entries) = &file.vary else {
            return Err(fail("vary", "write a mapping from field paths to their values".into()));
        };
        if entries.is_empty() {
            return Err(fail("vary", "no knobs; name at least one field to vary".into()));
        }
        let mut knobs = Vec::new();
        for (key, spec) in entries {
            let field = format!("vary.{key}");
            let values = values::expand(spec, &field).map_err(|e| format!("{source}: {e}"))?;
            // A knob is keyed by its field path, or by its name when it lists `paths`.
            let (name, paths) = match spec.get("paths") {
                Some(Node::Seq(paths)) if !paths.is_empty() => {
                    let parsed = paths
                        .iter()
                        .map(|p| match p {
                            Node::Text(text) => {
                                text.parse::<FieldPath>().map_err(|e| fail(&format!("{field}.paths"), e))
                            }
                            other => {
                                Err(fail(&format!("{field}.paths"), format!("{} is not a field path", other.inline())))
                            }
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    (key.clone(), parsed)
                }
                Some(_) => return Err(fail(&format!("{field}.paths"), "write a list of field paths".into())),
                None => {
                    let path: FieldPath = key.parse().map_err(|e| fail(&field, e))?;
                    let name = match spec.get("name") {
                        Some(Node::Text(name)) => name.clone(),
                        Some(other) => {
                            return Err(fail(&format!("{field}.name"), format!("{} is not text", other.inline())));
                        }
                        None => key.clone(),
                    };
                    (name, vec![path])
                }
            };
            if knobs.iter().any(|k: &Knob| k.name == name) {
                return Err(fail(&field, format!("a second knob named {name:?}")));
            }
            let companions = match spec.get("with") {
                None => Vec::new(),
                Some(Node::Map(with)) => with
                    .iter()
                    .map(|(path, list)| {
                        let place = format!("{field}.with.{path}");
                        let path = path.parse::<FieldPath>().map_err(|e| fail(&place, e))?;
                        match list {
                            Node::Seq(items) if items.len() == values.len() => Ok((path, items.clone())),
                            _ => Err(fail(
                                &place,
                                format!("write a list of {} values, one per value of the knob", values.len()),
                            )),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                Some(_) => {
                    return Err(fail(&format!("{field}.with"), "write a mapping from field paths to lists".into()));
                }
            };
            knobs.push(Knob { name, paths, values, companions });
        }
        if mode == Mode::Zip && knobs.iter().any(|k| k.values.len() != knobs[0].values.len()) {
            let counts: Vec<String> = knobs.iter().map(|k| format!("{}: {}", k.name, k.values.len())).collect();
            return Err(fail("mode", format!("zip needs knobs of equal length; they have {}", counts.join(", "))));
        }
        let fixed = match &file.set {
            None => Vec::new(),
            Some(Node::Map(entries)) => entries
                .iter()
                .map(|(path, value)| {
                    Ok((path.parse::<FieldPath>().map_err(|e| fail(&format!("set.{path}"), e))?, value.clone()))
                })
                .collect::<Result<_, String>>()?,
            Some(_) => return Err(fail("set", "write a mapping from field paths to values".into())),
        };
        let knob_named = |name: &str, field: &str| {
            if knobs.iter().any(|k: &Knob| k.name == name) {
                Ok(name.to_owned())
            } else {
                let names: Vec<&str> = knobs.iter().map(|k| k.name.as_str()).collect();
                Err(fail(field, format!("no knob named {name:?}; the knobs are {}", names.join(", "))))
            }
        };
        let mut plots = Vec::new();
        for (i, doc) in file.plots.iter().enumerate() {
            let field = format!("plots[{i}]");
            plots.push(match (&doc.heatmap, &doc.x) {
                (Some([x, over]), None) if doc.by.is_none() => {
                    PlotSpec::Heatmap { x: knob_named(x, &field)?, over: knob_named(over, &field)?, y: doc.y.clone() }
                }
                (None, Some(x)) => PlotSpec::Lines {
                    x: knob_named(x, &field)?,
                    y: doc.y.clone(),
                    by: doc.by.as_deref().map(|b| knob_named(b, &field)).transpose()?,
                },
                _ => return Err(fail(&field, "give x (and optionally by), or heatmap: [x, y]".into())),
            });
        }
        let seed = file.seed.or_else(|| base.get("seed").and_then(|s| s.scalar_text()?.parse().ok())).unwrap_or(1);
        let replications = file.replications.unwrap_or(1);
        if replications == 0 {
            return Err(fail("replications", "must be at least 1".into()));
        }
        let mut plan = Plan {
            name: file.name.clone(),
            description: file.description.clone().unwrap_or_default(),
            text: String::new(),
            seed,
            replications,
            mode,
            knobs,
            plots,
            fixed,
            base,
            base_dir,
            source: source.to_owned(),
        };
        let runs = plan.points().checked_mul(replications).filter(|&n| n <= MAX_RUNS);
        if runs.is_none() {
            return Err(fail("vary", format!("the sweep has more than {MAX_RUNS} runs; vary fewer values")));
        }
        plan.text = plan.as_run_text(text)?;
        Ok(plan)
    }

    /// The sweep file as run: the written file with `base` replaced by the scenario inline.
    fn as_run_text(&self, text: &str) -> Result<String, String> {
        let mut tree = tree::parse(text).map_err(|e| format!("{}: {e}", self.source))?;
        if let Node::Map(entries) = &mut tree {
            for (key, value) in entries.iter_mut() {
                if key == "base" {
                    *value = self.base.clone();
                }
            }
        }
        Ok(format!(
            "# meshsim {}: the sweep as run, its base scenario inline\n{}",
            env!("CARGO_PKG_VERSION"),
            tree::emit(&tree)
        ))
    }

    /// Number of points.
    pub fn points(&self) -> u64 {
        match self.mode {
            Mode::Grid => self
                .knobs
                .iter()
                .map(|k| k.values.len() as u64)
                .try_fold(1u64, |a, n| a.checked_mul(n))
                .unwrap_or(u64::MAX),
            Mode::Zip => self.knobs[0].values.len() as u64,
        }
    }

    /// Number of runs.
    pub fn runs(&self) -> u64 {
        self.points() * self.replications
    }

    /// The value index of each knob at `point`.
    pub fn value_indices(&self, point: u64) -> Vec<usize> {
        match self.mode {
            Mode::Zip => vec![point as usize; self.knobs.len()],
            Mode::Grid => {
                let mut rest = point;
                let mut indices = vec![0; self.knobs.len()];
                for (k, knob) in self.knobs.iter().enumerate().rev() {
                    let n = knob.values.len() as u64;
                    indices[k] = (rest % n) as usize;
                    rest /= n;
                }
                indices
            }
        }
    }

    /// The knob values of `point`, as CSV cells (on one line: a row is a line).
    pub fn point_values(&self, point: u64) -> Vec<String> {
        let one_line = |text: String| text.replace('\r', "\\r").replace('\n', "\\n");
        self.value_indices(point).iter().zip(&self.knobs).map(|(&i, k)| one_line(k.values[i].inline())).collect()
    }

    /// `name=value, ...` for messages.
    pub fn describe_point(&self, point: u64) -> String {
        self.knobs
            .iter()
            .zip(self.point_values(point))
            .map(|(k, v)| format!("{}={v}", k.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The identity of run `run`.
    pub fn run_id(&self, run: u64) -> RunId {
        let replication = run % self.replications;
        RunId { run, point: run / self.replications, replication, seed: replication_seed(self.seed, replication) }
    }

    /// The fields `set` to one value at every point, with their values, in written order.
    pub fn fixed(&self) -> impl Iterator<Item = (&FieldPath, &Node)> {
        self.fixed.iter().map(|(path, value)| (path, value))
    }

    /// The scenario of `point`: the base with the point's values set, read and checked like a
    /// scenario file.
    pub fn scenario(&self, point: u64) -> Result<Scenario, String> {
        let mut tree = self.base.clone();
        let place = format!("{}: point {point} ({})", self.source, self.describe_point(point));
        for (path, value) in &self.fixed {
            path.set(&mut tree, value.clone()).map_err(|e| format!("{place}: set.{e}"))?;
        }
        for (&i, knob) in self.value_indices(point).iter().zip(&self.knobs) {
            for path in &knob.paths {
                path.set(&mut tree, knob.values[i].clone()).map_err(|e| format!("{place}: vary.{e}"))?;
            }
            for (path, values) in &knob.companions {
                path.set(&mut tree, values[i].clone()).map_err(|e| format!("{place}: vary.{e}"))?;
            }
        }
        let text = tree::emit(&tree);
        let scenario = scenario::parse(&text, &place, &self.base_dir)?;
        scenario.check_simulable()?;
        Ok(scenario)
    }

    /// Every point's scenario, checked before anything runs; the first bad point is reported.
    pub fn scenarios(&self) -> Result<Vec<Scenario>, String> {
        (0..self.points()).map(|p| self.scenario(p)).collect()
    }
}

/// Moves the base's `istio.resource_files` into `istio.resources`, so a path can reach every
/// resource and `sweep.yaml` stands alone.
fn inline_resource_files(base: &mut Node, dir: &Path) -> Result<(), String> {
    let Node::Map(top) = base else { return Err("the base scenario is not a mapping".into()) };
    let Some((_, Node::Map(istio))) = top.iter_mut().find(|(k, _)| k == "istio") else { return Ok(()) };
    let Some(at) = istio.iter().position(|(k, _)| k == "resource_files") else { return Ok(()) };
    let (_, files) = istio.remove(at);
    let Node::Seq(files) = files else { return Err("istio.resource_files must be a list of paths".into()) };
    let mut documents: Vec<String> = Vec::new();
    if let Some((_, Node::Text(inline))) = istio.iter().find(|(k, _)| k == "resources") {
        documents.push(inline.clone());
    }
    for file in files {
        let Node::Text(name) = file else { return Err("istio.resource_files must be a list of paths".into()) };
        let path = dir.join(&name);
        documents.push(
            crate::input::read_text(&path, "an Istio resource file")
                .map_err(|e| format!("istio.resource_files: {e}"))?,
        );
    }
    let joined = documents.iter().map(|d| d.trim_end_matches('\n').to_owned() + "\n").collect::<Vec<_>>().join("---\n");
    match istio.iter_mut().find(|(k, _)| k == "resources") {
        Some((_, value)) => *value = Node::Text(joined),
        None => istio.push(("resources".into(), Node::Text(joined))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenarios_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")
    }

    fn plan(vary: &str, extra: &str) -> Result<Plan, String> {
        let text = format!("name: t\nbase: seed-failover.yaml\n{extra}vary:\n{vary}");
        Plan::parse(&text, "t.yaml", &scenarios_dir())
    }

    #[test]
    fn a_grid_numbers_points_with_the_last_knob_fastest() {
        let p = plan(
            "  metrics.window: [1s, 2s]\n  cen.connections[0].bandwidth: [2Mbps, 10Mbps, 100Mbps]\n",
            "replications: 2\n",
        )
        .unwrap();
        assert_eq!((p.points(), p.runs()), (6, 12));
        assert_eq!(p.point_values(0), ["1s", "2Mbps"]);
        assert_eq!(p.point_values(1), ["1s", "10Mbps"]);
        assert_eq!(p.point_values(3), ["2s", "2Mbps"]);
        let id = p.run_id(7);
        assert_eq!((id.point, id.replication), (3, 1));
        // Common random numbers: every point's replication r has the same seed.
        assert_eq!(p.run_id(1).seed, p.run_id(7).seed);
        assert_ne!(p.run_id(0).seed, p.run_id(1).seed);
        let scenario = p.scenario(4).unwrap();
        assert_eq!(scenario.config.network.backbone[0].bandwidth_bps, 10_000_000);
        assert_eq!(scenario.config.metrics.window, sim::SimDuration::from_secs(2));
    }

    #[test]
    fn a_knob_with_paths_sets_every_field_to_its_value() {
        let vary = "  replicas:\n    paths: [\"clusters[ack-hangzhou].deployments[2].replicas\", \"clusters[ack-shanghai].deployments[2].replicas\"]\n    values: [3]\n";
        let p = plan(vary, "").unwrap();
        assert_eq!(p.knobs[0].name, "replicas");
        let config = p.scenario(0).unwrap().config;
        assert!(config.clusters.iter().all(|c| c.deployments[2].replicas == 3));
    }

    #[test]
    fn companions_move_with_their_knob() {
        let vary = "  metrics.window:\n    values: [1s, 2s]\n    with:\n      metrics.slo: [0.9, 0.95]\n  cen.connections[0].bandwidth: [2Mbps, 10Mbps]\n";
        let p = plan(vary, "").unwrap();
        assert_eq!(p.points(), 4);
        let config = p.scenario(3).unwrap().config;
        assert_eq!((config.metrics.window, config.metrics.slo_success), (sim::SimDuration::from_secs(2), 0.95));
        let err = plan("  metrics.window:\n    values: [1s, 2s]\n    with: {metrics.slo: [0.9]}\n", "").unwrap_err();
        assert!(err.contains("a list of 2 values"), "{err}");
    }

    #[test]
    fn zip_pairs_values_and_needs_equal_lengths() {
        let p = plan("  metrics.window: [1s, 2s]\n  metrics.slo: [0.9, 0.99]\n", "mode: zip\n").unwrap();
        assert_eq!(p.points(), 2);
        assert_eq!(p.point_values(1), ["2s", "0.99"]);
        let err = plan("  metrics.window: [1s, 2s]\n  metrics.slo: [0.9]\n", "mode: zip\n").unwrap_err();
        assert!(err.contains("equal length"), "{err}");
    }

    #[test]
    fn an_istio_field_is_varied_inside_the_embedded_resources() {
        let path = "istio.resources[DestinationRule/reviews].spec.trafficPolicy.outlierDetection.consecutive5xxErrors";
        let p = plan(&format!("  {path}: [1, 7]\n"), "").unwrap();
        let rule = &p.scenario(1).unwrap().config.istio.destination_rules[0];
        let detector = rule.traffic_policy.as_ref().unwrap().outlier_detection.as_ref().unwrap();
        assert_eq!(detector.consecutive_5xx_errors, Some(7));
    }

    #[test]
    fn a_point_that_makes_the_scenario_invalid_is_named() {
        let p = plan("  metrics.window: [1s, 0s]\n", "").unwrap();
        let err = p.scenarios().unwrap_err();
        assert!(err.contains("point 1 (metrics.window=0s)") && err.contains("metrics.window"), "{err}");
        let err = plan("  clusters[ack-beijing].deployments[0].replicas: [1]\n", "").unwrap().scenarios().unwrap_err();
        assert!(err.contains("no item [ack-beijing]; there are [ack-hangzhou], [ack-shanghai]"), "{err}");
    }
}
