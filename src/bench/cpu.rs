//! Server CPU time from /proc: the whole process, and each thread name, so a run shows which
//! part of the server (gRPC workers, the flusher, the WAL writer, the log indexer) spent it.

use std::collections::BTreeMap;

use anyhow::Context as _;

/// Linux reports process times in clock ticks; 100 per second on every mainstream kernel.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// Name under which the time of threads that ended between two samples is reported.
pub(crate) const ENDED_THREADS: &str = "(threads that ended)";

/// CPU seconds of a process and of its live threads, at one instant.
#[derive(Debug, Clone, Default)]
pub(crate) struct CpuSample {
    /// User + system seconds of the whole process, ended threads included.
    pub(crate) total: f64,
    /// User + system seconds of the live threads, summed by thread name.
    pub(crate) threads: BTreeMap<String, f64>,
}

/// CPU spent between two samples.
#[derive(Debug, Clone, Default)]
pub(crate) struct CpuUse {
    /// User + system seconds of the whole process.
    pub(crate) seconds: f64,
    /// The same, by thread name.
    pub(crate) by_thread: BTreeMap<String, f64>,
}

/// User + system seconds of the whole process, from `/proc/<pid>/stat` alone (what a
/// once-a-second sampler needs, without a read per thread).
pub(crate) fn process_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (_, total) = parse_stat(&stat).context("odd /proc stat")?;
    Ok(total)
}

impl CpuSample {
    /// Reads `/proc/<pid>/stat` and `/proc/<pid>/task/*/stat`.
    pub(crate) fn of(pid: u32) -> anyhow::Result<CpuSample> {
        let total = process_seconds(pid)?;
        let mut threads = BTreeMap::new();
        for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
            // A thread may end between the listing and the read: it is then simply absent.
            let Ok(stat) = std::fs::read_to_string(entry?.path().join("stat")) else {
                continue;
            };
            if let Some((name, seconds)) = parse_stat(&stat) {
                *threads.entry(name).or_insert(0.0) += seconds;
            }
        }
        Ok(CpuSample { total, threads })
    }

    /// What was spent since `before`. A thread that ended in between took its time out of
    /// the per-thread figures (it stays in the total): the difference is reported under
    /// [`ENDED_THREADS`].
    pub(crate) fn since(&self, before: &CpuSample) -> CpuUse {
        let mut by_thread = BTreeMap::new();
        for (name, seconds) in &self.threads {
            let spent = seconds - before.threads.get(name).copied().unwrap_or(0.0);
            if spent > 0.0 {
                by_thread.insert(name.clone(), spent);
            }
        }
        let seconds = self.total - before.total;
        let unaccounted = seconds - by_thread.values().sum::<f64>();
        // One clock tick per thread of rounding is not worth a line.
        if unaccounted > 0.05 {
            by_thread.insert(ENDED_THREADS.to_string(), unaccounted);
        }
        CpuUse { seconds, by_thread }
    }
}

impl CpuUse {
    /// Adds another stretch of use (a scenario measured in phases).
    pub(crate) fn add(&mut self, other: &CpuUse) {
        self.seconds += other.seconds;
        for (name, seconds) in &other.by_thread {
            *self.by_thread.entry(name.clone()).or_insert(0.0) += seconds;
        }
    }
}

/// (thread or process name, user + system seconds) from a `stat` line. The name is in
/// parentheses and may itself hold spaces or parentheses, so fields are counted after the
/// last `)`: utime and stime are fields 14 and 15 of the line.
fn parse_stat(stat: &str) -> Option<(String, f64)> {
    let open = stat.find('(')?;
    let (before_close, after_name) = stat.rsplit_once(')')?;
    let name = before_close.get(open + 1..)?.to_string();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((name, (utime + stime) / CLOCK_TICKS_PER_SEC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_the_name_and_user_plus_system_seconds() {
        let line =
            "4242 (tokio-rt-worker) S 1 4242 4242 0 -1 4194624 100 0 0 0 312 45 0 0 20 0 3 0";
        assert_eq!(
            parse_stat(line),
            Some(("tokio-rt-worker".to_string(), 3.57))
        );
        let odd = "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 100 1 0 0 20 0 1 0";
        assert_eq!(parse_stat(odd), Some(("a) b (c)".to_string(), 1.01)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn use_between_samples_is_per_thread_with_ended_threads_as_the_rest() {
        let sample = |total: f64, threads: &[(&str, f64)]| CpuSample {
            total,
            threads: threads.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
        };
        let before = sample(
            10.0,
            &[("flusher", 2.0), ("tokio-rt-worker", 5.0), ("short", 1.0)],
        );
        let after = sample(16.0, &[("flusher", 4.0), ("tokio-rt-worker", 8.5)]);
        let spent = after.since(&before);
        assert!((spent.seconds - 6.0).abs() < 1e-9);
        assert!((spent.by_thread["flusher"] - 2.0).abs() < 1e-9);
        assert!((spent.by_thread["tokio-rt-worker"] - 3.5).abs() < 1e-9);
        assert!((spent.by_thread[ENDED_THREADS] - 0.5).abs() < 1e-9);
        let mut both = spent.clone();
        both.add(&spent);
        assert!((both.seconds - 12.0).abs() < 1e-9);
        assert!((both.by_thread["flusher"] - 4.0).abs() < 1e-9);
    }

    #[test]
    fn this_process_can_be_sampled() {
        let sample = CpuSample::of(std::process::id()).unwrap_or_else(|err| panic!("{err}"));
        assert!(!sample.threads.is_empty(), "at least this thread is listed");
        assert!(sample.total >= 0.0);
    }
}
