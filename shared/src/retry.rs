//! Retrying until a deadline: Lambda's deadline is real, so every retry loop asks how much time is
//! left before it tries again, and each attempt gets only that much.

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Below this much time left an attempt could not finish; stop instead.
const MIN_ATTEMPT: Duration = Duration::from_millis(250);
const MAX_ATTEMPT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How one attempt failed: worth another try (throttling, 5xx, a dropped connection) or not.
#[derive(Debug)]
pub enum Failure<E> {
    Retryable(E),
    Final(E),
}

impl<E> Failure<E> {
    /// The same failure, its error wrapped or converted by `f`.
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> Failure<F> {
        match self {
            Failure::Retryable(e) => Failure::Retryable(f(e)),
            Failure::Final(e) => Failure::Final(f(e)),
        }
    }
}

/// Why the loop stopped without success, and after how many attempts.
#[derive(Debug)]
pub struct GaveUp<E> {
    pub attempts: u32,
    pub last: Last<E>,
}

#[derive(Debug)]
pub enum Last<E> {
    /// The deadline was too close for even one attempt.
    NoTime,
    /// The last attempt used all the time it was given; the AWS calls it was still waiting on
    /// (see [`crate::aws::unanswered_calls`]).
    TimedOut(Duration, Option<String>),
    Failed(E),
}

impl<E: fmt::Display> fmt::Display for Last<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Last::NoTime => write!(f, "no time was left before the deadline"),
            Last::TimedOut(_, Some(unanswered)) => f.write_str(unanswered),
            Last::TimedOut(after, None) => write!(f, "no answer within {} ms (Timeout)", after.as_millis()),
            Last::Failed(e) => e.fmt(f),
        }
    }
}

/// Run `attempt(time it may take)` until it succeeds, fails for good, or the deadline comes,
/// sleeping 200 ms, 400 ms … 2 s between attempts. Each retry is logged as one warn line naming `what`.
/// Returns the value and the number of attempts it took.
pub async fn until_deadline<T, E, F, Fut>(what: &str, deadline: Instant, mut attempt: F) -> Result<(T, u32), GaveUp<E>>
where
    E: fmt::Display,
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, Failure<E>>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0;
    let mut last = Last::NoTime;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < MIN_ATTEMPT {
            return Err(GaveUp { attempts, last });
        }
        attempts += 1;
        let budget = left.min(MAX_ATTEMPT);
        // Pinned here, so a cut attempt is still alive (its calls listed) when the cut is named.
        let current = attempt(budget);
        tokio::pin!(current);
        last = tokio::select! {
            result = &mut current => match result {
                Ok(value) => return Ok((value, attempts)),
                Err(Failure::Final(e)) => return Err(GaveUp { attempts, last: Last::Failed(e) }),
                Err(Failure::Retryable(e)) => Last::Failed(e),
            },
            _ = tokio::time::sleep(budget) => Last::TimedOut(budget, crate::aws::unanswered_calls()),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left < backoff + MIN_ATTEMPT {
            return Err(GaveUp { attempts, last });
        }
        tracing::warn!(attempt = attempts, failure = %last, "{what} failed; retrying in {} ms", backoff.as_millis());
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Lambda's deadline (ms since the epoch) as an `Instant`. Runners that fake it (0, or in the
/// past) get 60 s, with a warning.
pub fn deadline_instant(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    match deadline_ms.checked_sub(now_ms) {
        Some(left) if left > 0 => Instant::now() + Duration::from_millis(left),
        _ => {
            tracing::warn!(deadline_ms, "no usable deadline from the runtime; allowing 60 s");
            Instant::now() + Duration::from_secs(60)
        }
    }
}

// In real time (a few seconds): tokio's `test-util` clock would give the test build another
// tokio, and so another build of everything on top of it (the whole SDK).
#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_what_is_retryable_until_it_succeeds() {
        let mut calls = 0;
        let result = until_deadline("test", Instant::now() + Duration::from_secs(10), |_| {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(Failure::Retryable("busy")) } else { Ok(n) } }
        })
        .await;
        assert_eq!(result.map_err(|e| e.attempts).ok(), Some((3, 3)));
    }

    #[tokio::test]
    async fn a_final_failure_stops_at_once() {
        let result: Result<((), u32), _> =
            until_deadline("test", Instant::now() + Duration::from_secs(10), |_| async {
                Err(Failure::Final("denied"))
            })
            .await;
        let gave_up = result.err().map(|e| (e.attempts, e.last.to_string()));
        assert_eq!(gave_up, Some((1, "denied".to_string())));
    }

    #[tokio::test]
    async fn stops_before_the_deadline() {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(3);
        let result: Result<((), u32), _> =
            until_deadline("test", deadline, |_| async { Err(Failure::Retryable("busy")) }).await;
        assert!(Instant::now() <= deadline);
        assert!(result.err().is_some_and(|e| e.attempts >= 4));
    }

    #[tokio::test]
    async fn a_hung_attempt_is_cut_at_the_deadline() {
        let deadline = Instant::now() + Duration::from_secs(2);
        let result: Result<((), u32), GaveUp<&str>> = until_deadline("test", deadline, |_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        })
        .await;
        assert!(matches!(result, Err(GaveUp { attempts: 1, last: Last::TimedOut(_, None) })));
        // The cut comes at the deadline itself, give or take the timer's millisecond.
        assert!(Instant::now() <= deadline + Duration::from_millis(20));
    }

    #[tokio::test]
    async fn no_time_means_no_attempt() {
        let result: Result<((), u32), GaveUp<&str>> =
            until_deadline("test", Instant::now(), |_| async { Ok(()) }).await;
        assert!(matches!(result, Err(GaveUp { attempts: 0, last: Last::NoTime })));
    }
}
