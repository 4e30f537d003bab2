//! `meshsim merge`: joins the `runs.csv` of a sweep's shards into the files one machine would
//! have written — same rows, same order, same bytes — then `points.csv` and the plots. Shards
//! are read line by line in a k-way merge, so memory does not grow with the number of runs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::plan::Plan;
use super::runner::{PARTIAL, finish};
use super::table::run_of_line;
use crate::output::write_atomically;

/// Merges the shard folders `shards` into `out`.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<Vec<PathBuf>, String> {
    let first = shards.first().ok_or("name the shard folders to merge")?;
    let sweep_text = crate::input::read_text(&first.join("sweep.yaml"), "the shard's sweep file")?;
    for shard in &shards[1..] {
        let text = crate::input::read_text(&shard.join("sweep.yaml"), "the shard's sweep file")?;
        if text != sweep_text {
            return Err(format!(
                "{}: sweep.yaml differs from {}'s: these are shards of different sweeps",
                shard.display(),
                first.display()
            ));
        }
    }
    let plan = Plan::parse(&sweep_text, &first.join("sweep.yaml").display().to_string(), first)?;
    let mut readers = Vec::new();
    let mut header: Option<String> = None;
    for shard in shards {
        let path = shard.join("runs.csv");
        if !path.exists() && shard.join(PARTIAL).exists() {
            return Err(format!(
                "{}: this shard has not finished (only {PARTIAL}); finish it with --resume",
                shard.display()
            ));
        }
        let file = std::fs::File::open(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut reader = BufReader::new(file);
        let mut head = String::new();
        reader.read_line(&mut head).map_err(|e| format!("{}: {e}", path.display()))?;
        match &header {
            None => header = Some(head),
            Some(h) if *h == head => {}
            Some(_) => return Err(format!("{}: its columns differ from the other shards'", path.display())),
        }
        readers.push((path, reader.lines()));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: cannot create the output folder: {e}", out.display()))?;
    let runs_csv = out.join("runs.csv");
    let temporary = out.join(".runs.csv.tmp");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&temporary).map_err(|e| format!("{}: cannot write: {e}", temporary.display()))?,
    );
    let write_error = |e: std::io::Error| format!("{}: cannot write: {e}", temporary.display());
    file.write_all(header.unwrap_or_default().as_bytes()).map_err(write_error)?;
    let mut heap = BinaryHeap::new();
    let next_line = |s: usize,
                     readers: &mut Vec<(PathBuf, std::io::Lines<BufReader<std::fs::File>>)>|
     -> Result<Option<(u64, String)>, String> {
        let (path, lines) = &mut readers[s];
        match lines.next() {
            None => Ok(None),
            Some(line) => {
                let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
                let run = run_of_line(&line)
                    .ok_or_else(|| format!("{}: {line:?} does not start with a run number", path.display()))?;
                Ok(Some((run, line)))
            }
        }
    };
    for s in 0..readers.len() {
        if let Some((run, line)) = next_line(s, &mut readers)? {
            heap.push(Reverse((run, s, line)));
        }
    }
    let mut expected = 0u64;
    while let Some(Reverse((run, s, line))) = heap.pop() {
        if run != expected {
            let what =
                if run < expected { format!("run {run} appears twice") } else { format!("run {expected} is missing") };
            let _ = std::fs::remove_file(&temporary);
            return Err(format!("{what} (seen in {}); merge every shard exactly once", readers[s].0.display()));
        }
        file.write_all(line.as_bytes()).and_then(|()| file.write_all(b"\n")).map_err(write_error)?;
        expected += 1;
        if let Some((run, line)) = next_line(s, &mut readers)? {
            heap.push(Reverse((run, s, line)));
        }
    }
    if expected != plan.runs() {
        let _ = std::fs::remove_file(&temporary);
        return Err(format!(
            "the shards hold runs 0 to {} of {}: run {expected} onwards are missing; merge every shard",
            expected.saturating_sub(1),
            plan.runs()
        ));
    }
    file.flush().map_err(write_error)?;
    drop(file);
    std::fs::rename(&temporary, &runs_csv)
        .map_err(|e| format!("{}: cannot rename into place: {e}", runs_csv.display()))?;
    let sweep_file = out.join("sweep.yaml");
    write_atomically(&sweep_file, sweep_text.as_bytes())?;
    let mut written = vec![sweep_file, runs_csv.clone()];
    written.extend(finish(out, &runs_csv, &plan)?);
    Ok(written)
}
