//! Reading the files users give: text only, and never more than a scenario could need, so a
//! mistaken path such as `/dev/zero` is refused instead of read until memory runs out.

use std::io::Read;
use std::path::Path;

/// The largest input file read (scenarios, sweeps, Istio resources, CSVs being merged are read
/// elsewhere): 16 MiB.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// Reads the UTF-8 text of `path`; `what` says what the file is for in errors.
pub fn read_text(path: &Path, what: &str) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: cannot read {what}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: cannot read {what}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(format!(
            "{}: {what} is over {} MiB; is this the right file?",
            path.display(),
            MAX_INPUT_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{}: {what} is not UTF-8 text", path.display()))
}

/// The reader's options for every YAML file: a node budget sized to the largest file read, so
/// that any file under [`MAX_INPUT_BYTES`] is refused for its size, never for its node count (a 200-region mesh with every CEN connection is
/// about 300,000 nodes; the reader's own default stops at 250,000). The alias and anchor limits
/// that stop expansion bombs stay the reader's.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    let budget = options.budget.get_or_insert_with(Default::default);
    // One node takes at least four bytes of flow YAML (`a, `); events are about two per node.
    budget.max_nodes = (MAX_INPUT_BYTES / 4) as usize;
    budget.max_events = (MAX_INPUT_BYTES / 2) as usize;
    options
}

/// A YAML reader's error as users should read it: the reader's advice about its own options
/// becomes advice about the file.
pub fn yaml_error(error: &serde_saphyr::Error) -> String {
    yaml_error_text(error.to_string())
}

/// [`yaml_error`] on already rendered text.
pub fn yaml_error_text(text: String) -> String {
    text.replace(", set DuplicateKeyPolicy in Options if acceptable", "; write each key once")
}

/// Checks that `name` (a scenario's or sweep's `name`, which becomes `outputs/<name>`) is one
/// plain folder name: no separators, no `..`, nothing hidden, nothing a shell or file system
/// treats specially.
pub fn check_folder_name(name: &str) -> Result<(), String> {
    let plain = |c: char| c.is_alphanumeric() || "-_.+".contains(c);
    if name.is_empty() || name.len() > 100 || name.starts_with('.') || !name.chars().all(plain) {
        return Err(format!(
            "{name:?} cannot name the output folder outputs/<name>: use letters, digits, '-', '_', '.' and '+' (not first), at most 100"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_folder_names_stay_inside_outputs() {
        for good in ["seed-failover", "ejection_503.v2", "a+b"] {
            assert!(check_folder_name(good).is_ok(), "{good}");
        }
        for bad in ["", "..", "../etc", "a/b", ".hidden", "a b", "x;rm", "\u{0}"] {
            assert!(check_folder_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_device_or_huge_file_is_refused_not_read_to_the_end() {
        let err = read_text(Path::new("/dev/zero"), "the scenario").unwrap_err();
        assert!(err.contains("over 16 MiB"), "{err}");
    }
}
