//! The `meshsim` command line's machinery: scenario files, runs, sweeps, outputs. The binary
//! (`src/main.rs`) is a thin layer over it; tests use it directly.

pub mod check;
pub mod columns;
pub mod compare;
pub mod fidelity;
pub mod findings;
pub mod fuzz;
pub mod input;
pub mod output;
pub mod plot;
pub mod report;
pub mod run;
pub mod scenario;
pub mod staging;
pub mod sweep;
pub mod yaml;
