//! Where each signal stands in the WAL: the last record handed to its store ("delivered")
//! and the last one durable there ("persisted"). The WAL may drop a segment only when every
//! record in it is persisted in its store.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::Signal;

#[derive(Debug, Default)]
pub(crate) struct Progress {
    delivered: [AtomicU64; 3],
    persisted: [AtomicU64; 3],
}

fn slot(signal: Signal) -> usize {
    match signal {
        Signal::Spans => 0,
        Signal::Logs => 1,
        Signal::Metrics => 2,
    }
}

impl Progress {
    pub(crate) fn set_delivered(&self, signal: Signal, seq: u64) {
        self.delivered[slot(signal)].store(seq, Ordering::Release);
    }

    pub(crate) fn set_persisted(&self, signal: Signal, seq: u64) {
        self.persisted[slot(signal)].fetch_max(seq, Ordering::AcqRel);
    }

    pub(crate) fn persisted(&self, signal: Signal) -> u64 {
        self.persisted[slot(signal)].load(Ordering::Acquire)
    }

    /// The lowest WAL seq that may still be needed. A signal with everything delivered also
    /// persisted needs nothing; otherwise its first record after `persisted` is the earliest
    /// candidate (a conservative bound: records of other signals interleave).
    pub(crate) fn truncation_floor(&self, next_seq: u64) -> u64 {
        Signal::ALL
            .iter()
            .filter_map(|&signal| {
                let persisted = self.persisted(signal);
                let delivered = self.delivered[slot(signal)].load(Ordering::Acquire);
                (delivered > persisted).then_some(persisted + 1)
            })
            .min()
            .unwrap_or(next_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_is_the_oldest_unpersisted_signal() {
        let progress = Progress::default();
        assert_eq!(progress.truncation_floor(10), 10);
        progress.set_delivered(Signal::Logs, 8);
        progress.set_persisted(Signal::Logs, 5);
        progress.set_delivered(Signal::Spans, 9);
        progress.set_persisted(Signal::Spans, 9);
        assert_eq!(progress.truncation_floor(10), 6);
        progress.set_persisted(Signal::Logs, 8);
        assert_eq!(progress.truncation_floor(10), 10);
    }
}
