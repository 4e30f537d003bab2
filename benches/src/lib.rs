//! Workloads shared by the criterion benches and the comparison driver, so both measure the same
//! code.

pub mod hold;
pub mod memory;
pub mod mesh;
