//! Backoff between failed attempts: 1 s × 1.5 per attempt up to 30 s, full jitter; a
//! server's `Retry-After` / `RetryInfo` (clamped to 1–30 s) is a floor. No give-up timer:
//! the disk buffer holds the data meanwhile (shared/RELIABILITY.md §1.2).

use std::time::Duration;

const INITIAL: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(30);
const MULTIPLIER: f64 = 1.5;

/// Exponential backoff state for one request.
#[derive(Debug, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// The delay before the next attempt.
    pub fn next_delay(&mut self, hint: Option<Duration>) -> Duration {
        let ceiling = INITIAL
            .mul_f64(MULTIPLIER.powi(self.attempt.min(32) as i32))
            .min(MAX);
        self.attempt = self.attempt.saturating_add(1);
        let jittered = ceiling.mul_f64(fastrand::f64());
        match hint {
            Some(hint) => jittered.max(hint.clamp(INITIAL, MAX)),
            None => jittered,
        }
    }

    /// Back to the first delay after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_with_jitter_and_honour_hints() {
        let mut backoff = Backoff::default();
        let mut ceilings = Vec::new();
        for attempt in 0..20 {
            let delay = backoff.next_delay(None);
            let ceiling = INITIAL.mul_f64(MULTIPLIER.powi(attempt)).min(MAX);
            assert!(delay <= ceiling, "{attempt}: {delay:?} > {ceiling:?}");
            ceilings.push(ceiling);
        }
        assert_eq!(*ceilings.last().unwrap(), MAX);
        assert!(backoff.next_delay(Some(Duration::from_secs(5))) >= Duration::from_secs(5));
        assert!(backoff.next_delay(Some(Duration::from_secs(500))) <= MAX);
        assert!(backoff.next_delay(Some(Duration::ZERO)) >= INITIAL);
        backoff.reset();
        assert!(backoff.next_delay(None) <= INITIAL);
    }
}
