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
