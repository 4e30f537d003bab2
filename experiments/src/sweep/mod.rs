//! Sweeps: a base scenario and knobs that vary its fields, run as many runs in parallel, on
//! one machine or as shards of a batch job, with results that do not depend on how they were
//! split. `SWEEPS.md` documents the file; `plan` reads it and numbers the runs (`values` expands each
//! knob's values), `runner` runs them, `table` writes `runs.csv` and `points.csv`, `report` the page
//! over them, `merge` joins shards.

pub mod merge;
pub mod plan;
pub mod report;
pub mod runner;
pub mod shard;
pub mod table;
pub mod values;
