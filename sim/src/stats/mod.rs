//! Statistics that stream: each folds samples in as they come and keeps memory that does not grow
//! with the number of samples, so an hour-long run costs what a minute does.

mod confidence;
mod counter;
mod histogram;
mod running;
mod series;

pub use confidence::{ConfidenceInterval, student_t_quantile};
pub use counter::Counter;
pub use histogram::Histogram;
pub use running::RunningStats;
pub use series::TimeSeries;
