//! Shards: disjoint slices of a sweep's runs for machines that each run one, as a Slurm array
//! task or a Kubernetes Indexed Job pod. Shard `k` of `n` takes runs `k, k + n, k + 2n, ...`
//! (interleaved, so every shard gets a fair mix of cheap and costly points).

use std::fmt;

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, from 0.
    pub index: u64,
    /// How many slices.
    pub count: u64,
}

impl Shard {
    /// The whole sweep.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether this is the whole sweep.
    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// The run numbers of this shard among `runs`, ascending.
    pub fn runs(self, runs: u64) -> impl Iterator<Item = u64> {
        (self.index..runs).step_by(self.count as usize)
    }

    fn new(index: u64, count: u64, origin: &str) -> Result<Shard, String> {
        if count == 0 || index >= count {
            return Err(format!("{origin}: shard {index} of {count} does not exist; shards are 0 to count-1"));
        }
        Ok(Shard { index, count })
    }

    /// Reads `K/N` as written after `--shard`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {text:?}: write K/N, e.g. 0/4 for the first of four shards");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        Shard::new(k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?, "--shard")
    }

    /// The shard a batch scheduler gives this process, read from `env`: a Slurm array task
    /// (`SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`), or a
    /// Kubernetes Indexed Job pod (`JOB_COMPLETION_INDEX`, of `shards` or
    /// `MESHSIM_SHARDS`, the Job's completions). `None` outside either.
    pub fn from_env(env: impl Fn(&str) -> Option<String>, shards: Option<u64>) -> Result<Option<Shard>, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            env(name)
                .map(|v| v.trim().parse::<u64>().map_err(|_| format!("{name}={v:?} is not a whole number")))
                .transpose()
        };
        if let Some(task) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let count = match (shards, number("SLURM_ARRAY_TASK_COUNT")?) {
                (Some(n), _) | (None, Some(n)) => n,
                (None, None) => return Err("SLURM_ARRAY_TASK_COUNT is not set; pass --shards N".into()),
            };
            let index = task.checked_sub(min).ok_or("SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?;
            return Shard::new(index, count, "the Slurm array task").map(Some);
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = match (shards, number("MESHSIM_SHARDS")?) {
                (Some(n), _) | (None, Some(n)) => n,
                (None, None) => {
                    return Err("JOB_COMPLETION_INDEX is set but not the shard count: pass --shards N or set MESHSIM_SHARDS to the Job's completions".into());
                }
            };
            return Shard::new(index, count, "the Indexed Job pod").map(Some);
        }
        Ok(None)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn shards_are_disjoint_and_cover_every_run() {
        let mut all: Vec<u64> = (0..3).flat_map(|k| Shard { index: k, count: 3 }.runs(10)).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(Shard::parse("1/3").unwrap().runs(10).collect::<Vec<_>>(), [1, 4, 7]);
        for bad in ["3/3", "1", "a/2", "0/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn batch_schedulers_name_the_shard() {
        let slurm = [("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_MIN", "3"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        assert_eq!(Shard::from_env(env(&slurm), None), Ok(Some(Shard { index: 2, count: 4 })));
        let k8s = [("JOB_COMPLETION_INDEX", "1"), ("MESHSIM_SHARDS", "3")];
        assert_eq!(Shard::from_env(env(&k8s), None), Ok(Some(Shard { index: 1, count: 3 })));
        assert_eq!(Shard::from_env(env(&k8s[..1]), Some(2)), Ok(Some(Shard { index: 1, count: 2 })));
        assert!(Shard::from_env(env(&k8s[..1]), None).unwrap_err().contains("--shards"));
        assert_eq!(Shard::from_env(env(&[]), None), Ok(None));
    }
}
