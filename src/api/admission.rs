//! Admission of RPCs past the edge checks: at most `max_in_flight` calls are handled at once,
//! and no client system holds more than `max_in_flight_per_caller` of them, so one caller
//! cannot starve the others. A call is admitted only once its request has arrived whole and
//! its caller may make it (no permit is held for a stream that never sends its body, or for a
//! caller without rights); past either limit it is refused at once (`RESOURCE_EXHAUSTED` with
//! `RetryInfo`), never queued. Health, reflection and the admin service are never refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::Error;

/// What a refused caller is told to wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub struct Admission {
    max_in_flight: usize,
    per_caller: usize,
    all: Arc<Semaphore>,
    /// One semaphore per client system that has been admitted (client systems are named in
    /// the access configuration, so this stays small).
    callers: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Held while an admitted call is handled.
pub struct Admitted {
    _all: OwnedSemaphorePermit,
    _caller: OwnedSemaphorePermit,
}

impl Admission {
    pub fn new(max_in_flight: usize, per_caller: usize) -> Admission {
        Admission {
            max_in_flight,
            per_caller: per_caller.min(max_in_flight),
            all: Arc::new(Semaphore::new(max_in_flight)),
            callers: Mutex::new(HashMap::new()),
        }
    }

    /// A permit for `caller`'s call, or the refusal to answer.
    pub fn admit(&self, caller: &str) -> Result<Admitted, Error> {
        let mine = {
            let mut callers = self.callers.lock().unwrap_or_else(|p| p.into_inner());
            match callers.get(caller) {
                Some(mine) => mine.clone(),
                None => callers
                    .entry(caller.to_owned())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_caller)))
                    .clone(),
            }
        };
        let refuse = |limit, whose| {
            crate::metrics::shed();
            Error::Overloaded {
                limit,
                whose,
                retry_after: RETRY_AFTER,
            }
        };
        let caller = mine
            .try_acquire_owned()
            .map_err(|_| refuse(self.per_caller, " for this client system"))?;
        let all = self
            .all
            .clone()
            .try_acquire_owned()
            .map_err(|_| refuse(self.max_in_flight, ""))?;
        Ok(Admitted {
            _all: all,
            _caller: caller,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_caller_gets_its_share_and_the_others_the_rest() {
        let admission = Admission::new(4, 3);
        let greedy: Vec<_> = (0..3).map(|_| admission.admit("greedy").unwrap()).collect();
        assert!(matches!(
            admission.admit("greedy"),
            Err(Error::Overloaded { limit: 3, .. })
        ));
        let other = admission.admit("other").expect("the share left for others");
        assert!(matches!(
            admission.admit("third"),
            Err(Error::Overloaded { limit: 4, .. })
        ));
        drop(greedy);
        drop(other);
        assert_eq!(admission.all.available_permits(), 4, "every permit back");
        assert!(admission.admit("third").is_ok());
    }
}
