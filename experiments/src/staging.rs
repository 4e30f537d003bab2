//! Output folders that appear whole: a run writes into a staging folder beside the target
//! (made before the simulation starts, so an unwritable place is found at once), and the
//! staging folder replaces the target only when every file is in it. A run interrupted before
//! that leaves the previous outputs as they were; the staging folder of a failed run is removed.

use std::path::{Path, PathBuf};

/// A staging folder for `target`.
#[derive(Debug)]
pub struct Staging {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

impl Staging {
    /// Makes the staging folder beside `target` (creating `target`'s parent if needed).
    pub fn prepare(target: &Path) -> Result<Staging, String> {
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: the output folder needs a name (e.g. outputs/run)", target.display()))?;
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("{}: cannot create the output folder's parent: {e}", parent.display()))?;
        let staging = parent.join(format!(".{name}.staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir(&staging)
            .map_err(|e| format!("{}: cannot write the output folder here: {e}", parent.display()))?;
        Ok(Staging { target: target.to_path_buf(), staging, committed: false })
    }

    /// Where to write the files.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The folder the files will be in once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Puts the staged files in place of the target's; returns the target.
    pub fn commit(mut self) -> Result<PathBuf, String> {
        let previous = self.staging.with_file_name(format!(
            ".{}.previous-{}",
            self.target.file_name().and_then(|n| n.to_str()).unwrap_or("outputs"),
            std::process::id()
        ));
        let had_previous = self.target.exists();
        if had_previous {
            std::fs::rename(&self.target, &previous)
                .map_err(|e| format!("{}: cannot move the previous outputs aside: {e}", self.target.display()))?;
        }
        if let Err(e) = std::fs::rename(&self.staging, &self.target) {
            if had_previous {
                let _ = std::fs::rename(&previous, &self.target);
            }
            return Err(format!("{}: cannot put the new outputs in place: {e}", self.target.display()));
        }
        self.committed = true;
        if had_previous {
            let _ = std::fs::remove_dir_all(&previous);
        }
        Ok(self.target.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_replace_the_previous_ones_only_when_whole() {
        let folder = tempfile::Builder::new().prefix("meshsim-staging-").tempdir().unwrap();
        let root = folder.path();
        let target = root.join("run");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("old.csv"), "old").unwrap();
        // An abandoned run leaves the previous outputs and no staging folder.
        let abandoned = Staging::prepare(&target).unwrap();
        std::fs::write(abandoned.path().join("new.csv"), "new").unwrap();
        drop(abandoned);
        assert!(target.join("old.csv").exists());
        assert_eq!(std::fs::read_dir(root).unwrap().count(), 1, "only the target is left");
        // A committed one replaces them whole.
        let staged = Staging::prepare(&target).unwrap();
        std::fs::write(staged.path().join("new.csv"), "new").unwrap();
        assert_eq!(staged.commit().unwrap(), target);
        assert!(target.join("new.csv").exists() && !target.join("old.csv").exists());
        assert_eq!(std::fs::read_dir(root).unwrap().count(), 1);
    }

    #[test]
    fn an_unwritable_place_is_found_before_anything_runs() {
        let err = Staging::prepare(Path::new("/proc/meshsim-cannot-write-here/run")).unwrap_err();
        assert!(err.contains("cannot"), "{err}");
    }
}
