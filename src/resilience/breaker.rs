//! A circuit breaker per registry.
//!
//! Closed: calls pass; it opens after `consecutive_failures` failures in a row, or when the
//! failure rate over the last `window` calls reaches `failure_rate` (once `min_calls` are in
//! the window). Open: calls fail at once until `open_for` has passed. Half-open: one probe
//! passes; its success closes the breaker, its failure opens it again.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    pub consecutive_failures: u32,
    pub failure_rate: f64,
    pub window: u32,
    pub min_calls: u32,
    #[serde(with = "humantime_serde")]
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: 5,
            failure_rate: 0.5,
            window: 20,
            min_calls: 10,
            open_for: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

enum State {
    Closed {
        consecutive: u32,
        window: VecDeque<bool>,
    },
    Open {
        until: Instant,
    },
    HalfOpen {
        probing: bool,
    },
}

pub struct Breaker {
    config: Mutex<BreakerConfig>,
    state: Mutex<State>,
}

/// Leave to make one call; report how it went with [`Permit::record`]. A permit dropped
/// unreported (the caller went away) frees the half-open probe slot.
pub struct Permit {
    breaker: Arc<Breaker>,
    probe: bool,
    recorded: bool,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Arc<Breaker> {
        Arc::new(Breaker {
            config: Mutex::new(config),
            state: Mutex::new(closed()),
        })
    }

    /// New thresholds; the current state and its counts stay.
    pub fn set_config(&self, config: BreakerConfig) {
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = config;
    }

    fn config(&self) -> BreakerConfig {
        *self.config.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn state(&self) -> BreakerState {
        match &*self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() >= *until => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// A permit to call, or how long until the breaker lets a probe through.
    pub fn allow(self: &Arc<Self>) -> Result<Permit, Duration> {
        let now = Instant::now();
        let mut state = self.lock();
        let probe = match &mut *state {
            State::Closed { .. } => false,
            State::Open { until } if now < *until => return Err(*until - now),
            State::Open { .. } => {
                *state = State::HalfOpen { probing: true };
                true
            }
            State::HalfOpen { probing: true } => return Err(self.config().open_for),
            State::HalfOpen { probing } => {
                *probing = true;
                true
            }
        };
        Ok(Permit {
            breaker: self.clone(),
            probe,
            recorded: false,
        })
    }

    fn record(&self, success: bool) {
        let now = Instant::now();
        let c = &self.config();
        let mut state = self.lock();
        match &mut *state {
            State::Closed {
                consecutive,
                window,
            } => {
                *consecutive = if success { 0 } else { *consecutive + 1 };
                window.push_back(success);
                while window.len() > c.window.max(1) as usize {
                    window.pop_front();
                }
                let failures = window.iter().filter(|ok| !**ok).count();
                let rate_tripped = window.len() >= c.min_calls.max(1) as usize
                    && failures as f64 >= c.failure_rate * window.len() as f64;
                if !success && (*consecutive >= c.consecutive_failures || rate_tripped) {
                    *state = State::Open {
                        until: now + c.open_for,
                    };
                }
            }
            State::HalfOpen { .. } => {
                *state = if success {
                    closed()
                } else {
                    State::Open {
                        until: now + c.open_for,
                    }
                };
            }
            // A late answer from before the breaker opened changes nothing.
            State::Open { .. } => {}
        }
    }
}

fn closed() -> State {
    State::Closed {
        consecutive: 0,
        window: VecDeque::new(),
    }
}

impl Permit {
    pub fn record(mut self, success: bool) {
        self.recorded = true;
        self.breaker.record(success);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe && !self.recorded {
            if let State::HalfOpen { probing } = &mut *self.breaker.lock() {
                *probing = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Arc<Breaker> {
        Breaker::new(BreakerConfig {
            consecutive_failures: 3,
            failure_rate: 0.5,
            window: 10,
            min_calls: 6,
            open_for: Duration::from_secs(10),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_fails_fast_half_opens_and_closes() {
        let b = breaker();
        for _ in 0..3 {
            b.allow().unwrap().record(false);
        }
        assert_eq!(b.state(), BreakerState::Open);
        let wait = b.allow().err().expect("open breaker refuses");
        assert_eq!(wait, Duration::from_secs(10));

        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.allow().expect("one probe passes");
        assert!(b.allow().is_err(), "only one probe at a time");
        probe.record(true);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn failed_probe_reopens_and_abandoned_probe_frees_the_slot() {
        let b = breaker();
        for _ in 0..3 {
            b.allow().unwrap().record(false);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        drop(b.allow().unwrap());
        let probe = b.allow().expect("abandoned probe freed its slot");
        probe.record(false);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn failure_rate_trips_without_a_run() {
        let b = breaker();
        // Alternating: never 3 in a row, but half of 6 fail.
        for i in 0..6 {
            b.allow().unwrap().record(i % 2 == 0);
        }
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn successes_keep_it_closed() {
        let b = breaker();
        for i in 0..50 {
            b.allow().unwrap().record(i % 5 != 0);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
