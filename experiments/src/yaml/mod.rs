//! YAML documents as trees: reading and writing them (`tree`), naming a field by its path
//! (`path`), and finding the line a field was written on (`locate`). Sweeps vary fields by
//! path; errors and `meshsim check` findings point at the line of the field they concern.

pub mod locate;
pub mod path;
pub mod tree;
