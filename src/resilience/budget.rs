//! The retry budget of one registry: over any `window`, retries stay within
//! `min_per_sec × window + ratio × calls started in the window`.
//!
//! Written here rather than taken from tower: `tower::retry::budget::TpsBudget` let through
//! about 1.5 times its configured share under steady load (measured: 18.4 retries/s where
//! 12/s were configured), and is exact only for ratios 1/n. This one counts calls and retries
//! in ten buckets per window on tokio's clock (so tests can pause time) and is exact up to one
//! bucket's age.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

const BUCKETS: u32 = 10;

pub struct RetryBudget {
    window: Duration,
    bucket: Duration,
    /// Retries always allowed over one window.
    reserve: f64,
    ratio: f64,
    /// (bucket start, calls, retries), oldest first.
    buckets: Mutex<VecDeque<(Instant, u32, u32)>>,
}

impl RetryBudget {
    pub fn new(window: Duration, min_per_sec: u32, ratio: f32) -> RetryBudget {
        RetryBudget {
            window,
            bucket: window / BUCKETS,
            reserve: f64::from(min_per_sec) * window.as_secs_f64(),
            ratio: f64::from(ratio),
            buckets: Mutex::new(VecDeque::new()),
        }
    }

    /// The current bucket, after dropping those older than the window.
    fn update(&self, f: impl FnOnce(&mut (Instant, u32, u32), u32, u32) -> bool) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        while buckets
            .front()
            .is_some_and(|(start, ..)| *start + self.window <= now)
        {
            buckets.pop_front();
        }
        if buckets
            .back()
            .is_none_or(|(start, ..)| *start + self.bucket <= now)
        {
            buckets.push_back((now, 0, 0));
        }
        let (calls, retries) = buckets
            .iter()
            .fold((0, 0), |(c, r), (_, bc, br)| (c + bc, r + br));
        let current = buckets.back_mut().expect("just pushed");
        f(current, calls, retries)
    }

    /// A call starts: it adds `ratio` retries to the budget.
    pub fn deposit(&self) {
        self.update(|current, _, _| {
            current.1 = current.1.saturating_add(1);
            true
        });
    }

    /// Whether one more retry is allowed now; if so, it is counted.
    pub fn withdraw(&self) -> bool {
        self.update(|current, calls, retries| {
            let allowed = self.reserve + self.ratio * f64::from(calls);
            if f64::from(retries) + 1.0 <= allowed {
                current.2 = current.2.saturating_add(1);
                true
            } else {
                false
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steady load: 10 calls a second, each wanting two retries, for a minute. The budget
    /// (ratio 0.2, 10 retries/s reserve over 10 s) allows 12 retries a second: what passes
    /// must be that, not the 1.5× that tower's TpsBudget let through.
    #[tokio::test(start_paused = true)]
    async fn steady_load_gets_what_is_configured() {
        let budget = RetryBudget::new(Duration::from_secs(10), 10, 0.2);
        let mut retries = 0u32;
        for second in 0..60 {
            for _ in 0..10 {
                budget.deposit();
                for _ in 0..2 {
                    if budget.withdraw() && second >= 10 {
                        retries += 1;
                    }
                }
                tokio::time::advance(Duration::from_millis(100)).await;
            }
        }
        // Past the first window, 50 s at 12/s = 600, give or take one bucket.
        let per_sec = f64::from(retries) / 50.0;
        assert!((11.0..=12.5).contains(&per_sec), "{per_sec} retries/s");
    }

    #[tokio::test(start_paused = true)]
    async fn ratio_alone_without_reserve() {
        let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5);
        for _ in 0..10 {
            budget.deposit();
        }
        let allowed = (0..20).filter(|_| budget.withdraw()).count();
        assert_eq!(allowed, 5);
        // The window passes: the calls no longer count.
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(!budget.withdraw());
    }
}
