//! The `meshsim` command line's machinery: scenario files, runs, outputs. The binary
//! (`src/main.rs`) is a thin layer over it; tests use it directly.

pub mod output;
pub mod plot;
pub mod run;
pub mod scenario;
