//! The retry decision, pure: after a failed attempt, whether to try again and after what
//! pause. No clock, no randomness of its own (the jitter comes from a seed fixed per call),
//! so it is tested on its own.

use std::hash::BuildHasher;
use std::time::Duration;

use super::Policy;
use crate::registry::Failure;

/// One call's retry rules: bounded attempts and a jittered exponential backoff.
#[derive(Debug, Clone, Copy)]
pub struct RetryRules {
    max_attempts: u32,
    backoff_min: Duration,
    backoff_max: Duration,
    /// Random extra pause, as a share of the backoff.
    jitter: f64,
    /// Where this call's jitter comes from.
    seed: u64,
}

impl RetryRules {
    /// `policy`'s rules, with a fresh jitter seed.
    pub fn new(policy: &Policy) -> RetryRules {
        RetryRules::with_seed(
            policy,
            std::collections::hash_map::RandomState::new().hash_one(0),
        )
    }

    /// `policy`'s rules with the jitter of `seed`.
    pub fn with_seed(policy: &Policy, seed: u64) -> RetryRules {
        RetryRules {
            max_attempts: policy.max_attempts,
            backoff_min: policy.backoff_min,
            backoff_max: policy.backoff_max,
            jitter: policy.backoff_jitter,
            seed,
        }
    }

    /// After attempt number `attempt` (from 1) failed with `failure`, having taken `elapsed`,
    /// with `time_left` until the callers' deadline (`None`: no deadline): the pause before
    /// the next attempt, or `None` when there is none. Only a transient failure is retried,
    /// never past `max_attempts`, and only when a retry as slow as this attempt can still
    /// finish before the deadline. (The retry budget is asked afterwards: it is the guard's
    /// state, not a rule.)
    pub fn should_retry(
        &self,
        failure: &Failure,
        attempt: u32,
        elapsed: Duration,
        time_left: Option<Duration>,
    ) -> Option<Duration> {
        if !failure.is_transient() || attempt >= self.max_attempts {
            return None;
        }
        let pause = self.pause(attempt);
        match time_left {
            Some(left) if pause.saturating_add(elapsed) > left => None,
            _ => Some(pause),
        }
    }

    /// The backoff after attempt `attempt`: `backoff_min` doubled per attempt, at most
    /// `backoff_max`, plus a random share (up to `jitter`) of it, the whole at most
    /// `backoff_max`.
    fn pause(&self, attempt: u32) -> Duration {
        let doubling = 2_u32.saturating_pow(attempt.saturating_sub(1));
        let base = self
            .backoff_min
            .checked_mul(doubling)
            .unwrap_or(self.backoff_max)
            .min(self.backoff_max);
        let share = self.jitter * unit(self.seed, attempt);
        let extra = Duration::try_from_secs_f64(base.as_secs_f64() * share).unwrap_or_default();
        base + extra.min(self.backoff_max - base)
    }
}

/// A number in [0, 1) from `seed` and `n` (splitmix64).
fn unit(seed: u64, n: u32) -> f64 {
    let mut z = seed.wrapping_add(u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(jitter: f64) -> RetryRules {
        let policy = Policy {
            max_attempts: 4,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(350),
            backoff_jitter: jitter,
            ..Policy::default()
        };
        RetryRules::with_seed(&policy, 7)
    }

    const TRANSIENT: Failure = Failure::Http(503);
    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn transient_failures_are_retried_with_a_doubling_pause_up_to_the_maximum() {
        let r = rules(0.0);
        let pauses: Vec<_> = (1..4)
            .map(|attempt| r.should_retry(&TRANSIENT, attempt, MS(10), None))
            .collect();
        assert_eq!(pauses, [Some(MS(100)), Some(MS(200)), Some(MS(350))]);
        assert!(Failure::Timeout(MS(5)).is_transient());
        assert!(r
            .should_retry(&Failure::Timeout(MS(5)), 1, MS(5), None)
            .is_some());
    }

    #[test]
    fn no_retry_of_a_permanent_failure_or_after_the_last_attempt() {
        let r = rules(0.0);
        for permanent in [
            Failure::Http(404),
            Failure::Malformed("x".into()),
            Failure::DeadlineExceeded,
            Failure::Overloaded(MS(1)),
            Failure::ConsentRefused { code: "K".into() },
        ] {
            assert_eq!(
                r.should_retry(&permanent, 1, MS(1), None),
                None,
                "{permanent}"
            );
        }
        assert_eq!(r.should_retry(&TRANSIENT, 4, MS(1), None), None);
        assert_eq!(r.should_retry(&TRANSIENT, 9, MS(1), None), None);
    }

    #[test]
    fn no_retry_that_cannot_finish_before_the_deadline() {
        let r = rules(0.0);
        // Pause 100 ms + an attempt as slow as the last one (300 ms) = 400 ms.
        assert_eq!(
            r.should_retry(&TRANSIENT, 1, MS(300), Some(MS(400))),
            Some(MS(100))
        );
        assert_eq!(r.should_retry(&TRANSIENT, 1, MS(300), Some(MS(399))), None);
        assert_eq!(
            r.should_retry(&TRANSIENT, 1, MS(300), Some(Duration::ZERO)),
            None
        );
    }

    #[test]
    fn jitter_adds_at_most_its_share_and_never_passes_the_maximum() {
        for seed in 0..200 {
            let r = RetryRules { seed, ..rules(0.5) };
            let first = r.should_retry(&TRANSIENT, 1, MS(1), None).unwrap();
            assert!((MS(100)..=MS(150)).contains(&first), "{first:?}");
            let third = r.should_retry(&TRANSIENT, 3, MS(1), None).unwrap();
            assert_eq!(third, MS(350));
            // The same call (seed) and attempt always give the same pause: pure.
            assert_eq!(r.should_retry(&TRANSIENT, 1, MS(1), None), Some(first));
        }
        let spread: std::collections::HashSet<_> = (0..50)
            .map(|seed| RetryRules { seed, ..rules(0.5) }.pause(1))
            .collect();
        assert!(spread.len() > 10, "jitter varies between calls");
    }
}
