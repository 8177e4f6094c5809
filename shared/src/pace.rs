//! Pacing AWS calls to the service's request-rate token buckets, client-side.
//!
//! EC2 meters each API action per account and Region with a token bucket ("Request throttling for
//! the Amazon EC2 API", EC2 developer guide: a bucket of a maximum size that refills by a set
//! number of tokens a second; an empty bucket answers `RequestLimitExceeded`). A loop of writes
//! that ignores it gets throttled after the burst, and the SDK's few retries run out. So every
//! paced call first takes a token from this process's model of that bucket, keyed by account,
//! Region and action as AWS keys it (two sides in one account and Region share it).
//!
//! The model starts from the documented figures ([`documented`]) and follows the bucket it meets:
//! a throttled answer empties it and slows it down (the account shares the bucket with every
//! other caller, or its limits differ); calls that had to wait and were answered speed it up
//! again, so a faster bucket (a raised limit) is found. Nothing here knows of tests.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use aws_config::retry::RetryConfig;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::AwsFailure;

/// A bucket's figures: how many tokens it holds, and how many it gets back a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub burst: f64,
    pub refill: f64,
}

/// The documented bucket of `action` ("service:Action"), from the EC2 developer guide's tables
/// "Request token bucket sizes and refill rates": non-mutating actions 100 and 20 a second;
/// mutating ones 50 and 5; the resource-intensive ones (peering connections, security-group
/// ingress) also 50 and 5, in buckets of their own; `CreateTags`/`DeleteTags` 100 and 10.
/// Other services' writes are taken as EC2's mutating figures (a prior: the model follows
/// what the service answers).
pub fn documented(action: &str) -> Limits {
    let name = action.split_once(':').map_or(action, |(_, name)| name);
    if ["Describe", "Get", "List", "Search"].iter().any(|verb| name.starts_with(verb)) {
        return Limits { burst: 100.0, refill: 20.0 };
    }
    if matches!(name, "CreateTags" | "DeleteTags") {
        return Limits { burst: 100.0, refill: 10.0 };
    }
    Limits { burst: 50.0, refill: 5.0 }
}

/// The SDK's retry for paced clients: standard, its three attempts, backing off at most 2 s.
/// Throttled writes are retried by [`paced`], per action, until their time runs out; the SDK's
/// adaptive mode was tried and left out: its rate limiter is one per client, so a throttle of one
/// action slows every action the client calls (EC2 meters each action on its own), and at a
/// custom resource's low call rate two throttles made it delay every later call by seconds (the
/// fault matrix's "throttled twice" cases then ran out of time).
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3).with_max_backoff(Duration::from_secs(2))
}

/// The longest the SDK's own retries of one throttled call can take under `retry`: it waits
/// `initial × 2^n` before retry n, capped at the maximum (its jitter only shortens that); under
/// [`retry_config`], 1 s and 2 s. [`paced`] starts no attempt that could end after its `until`.
pub fn sdk_retry_span(retry: &RetryConfig) -> Duration {
    (0..retry.max_attempts().saturating_sub(1))
        .map(|n| retry.initial_backoff().saturating_mul(1 << n.min(20)).min(retry.max_backoff()))
        .sum()
}

/// How much a throttled answer slows the model, and how much each call that waited for a token
/// speeds it up (faster until the first throttle: it may meet a bucket far above the prior).
const SLOW_DOWN: f64 = 0.8;
const PROBE: f64 = 1.02;
const FIRST_PROBE: f64 = 1.1;
const MIN_REFILL: f64 = 0.05;

/// This process's model of one bucket.
#[derive(Debug)]
pub struct Bucket {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    limits: Limits,
    tokens: f64,
    at: Instant,
    throttled: u32,
}

impl State {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.limits.refill).min(self.limits.burst);
        self.at = now;
    }
}

impl Bucket {
    pub fn new(limits: Limits) -> Self {
        Self { state: Mutex::new(State { limits, tokens: limits.burst, at: Instant::now(), throttled: 0 }) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.refill(Instant::now());
        f(&mut state)
    }

    /// Take a token, waiting for one if the model has none. Returns whether it waited.
    pub async fn acquire(&self) -> bool {
        let mut waited = false;
        loop {
            let wait = self.with(|s| {
                if s.tokens >= 1.0 {
                    s.tokens -= 1.0;
                    None
                } else {
                    Some(Duration::from_secs_f64((1.0 - s.tokens) / s.limits.refill))
                }
            });
            match wait {
                None => return waited,
                Some(wait) => {
                    waited = true;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// The service said the bucket is empty.
    pub fn throttled(&self) {
        self.with(|s| {
            s.tokens = 0.0;
            s.limits.refill = (s.limits.refill * SLOW_DOWN).max(MIN_REFILL);
            s.throttled += 1;
        });
    }

    /// A call that had to wait for its token was answered: the bucket may be faster.
    pub fn answered_after_waiting(&self) {
        self.with(|s| s.limits.refill *= if s.throttled == 0 { FIRST_PROBE } else { PROBE });
    }

    /// How long `calls` more calls take at the model's pace, from now.
    pub fn estimate(&self, calls: usize) -> Duration {
        self.with(|s| Duration::from_secs_f64((calls as f64 - s.tokens).max(0.0) / s.limits.refill))
    }

    /// The model's figures now.
    pub fn limits(&self) -> Limits {
        self.with(|s| s.limits)
    }
}

/// The model of the bucket of `action` ("ec2:CreateRoute") for `account` in `region`: one per
/// process, shared by every client that calls it there.
pub fn bucket(account: &str, region: &str, action: &str) -> Arc<Bucket> {
    type Buckets = HashMap<(String, String, String), Arc<Bucket>>;
    static BUCKETS: OnceLock<Mutex<Buckets>> = OnceLock::new();
    let buckets = BUCKETS.get_or_init(Default::default);
    let mut buckets = buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let key = (account.to_string(), region.to_string(), action.to_string());
    buckets.entry(key).or_insert_with(|| Arc::new(Bucket::new(documented(action)))).clone()
}

/// Where and until when calls are paced: the account and Region whose buckets they draw from,
/// and the last moment a throttled call is tried again (the time after it is kept to undo,
/// report, or hand over).
#[derive(Debug, Clone)]
pub struct Pace {
    pub account: String,
    pub region: String,
    pub until: Instant,
}

impl Pace {
    /// The model of `action`'s bucket ("ec2:CreateRoute") in this account and Region.
    pub fn bucket(&self, action: &str) -> Arc<Bucket> {
        bucket(&self.account, &self.region, action)
    }

    /// `call` once `action`'s bucket has a token, and again while it is throttled (see [`paced`]).
    pub async fn call<T, F, Fut>(&self, action: &str, call: F) -> Result<T, AwsFailure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsFailure>>,
    {
        paced(&self.bucket(action), self.until, call).await
    }

    /// The same for an SDK call: `pace.send("ec2:CreateRoute", || request.clone().send())`.
    pub async fn send<T, E, R, F, Fut>(&self, action: &'static str, request: F) -> Result<T, AwsFailure>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        send(&self.bucket(action), self.until, action, request).await
    }
}

/// [`paced`] for an SDK call of `action`, its failure as an [`AwsFailure`].
pub async fn send<T, E, R, F, Fut>(
    bucket: &Bucket,
    until: Instant,
    action: &'static str,
    request: F,
) -> Result<T, AwsFailure>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    paced(bucket, until, || {
        // On the heap: an SDK call's future is large, and debug builds keep big futures' moves on
        // the stack (a Create's parallel sides overflowed a 2 MiB worker stack without this).
        let sent = Box::pin(request());
        async move { sent.await.map_err(AwsFailure::of(action)) }
    })
    .await
}

/// Make `call` once a token is there, and again while it is throttled as long as another attempt,
/// with the SDK's own retries of it, can end by `until`: then the throttling failure is returned
/// (the caller keeps the time after `until` to report, undo or hand over).
pub async fn paced<T, F, Fut>(bucket: &Bucket, until: Instant, mut call: F) -> Result<T, AwsFailure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsFailure>>,
{
    loop {
        let waited = bucket.acquire().await;
        match call().await {
            Ok(value) => {
                if waited {
                    bucket.answered_after_waiting();
                }
                return Ok(value);
            }
            Err(failure) if failure.is_throttling() => {
                bucket.throttled();
                if Instant::now() + bucket.estimate(1) + sdk_retry_span(&retry_config()) > until {
                    return Err(failure);
                }
                tracing::info!(action = failure.action, "throttled; waiting for the bucket to refill");
            }
            Err(failure) => return Err(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_figures() {
        let table = [
            ("ec2:CreateRoute", (50.0, 5.0)),
            ("ec2:DeleteRoute", (50.0, 5.0)),
            ("ec2:AuthorizeSecurityGroupIngress", (50.0, 5.0)),
            ("ec2:DescribeRouteTables", (100.0, 20.0)),
            ("ec2:CreateTags", (100.0, 10.0)),
        ];
        for (action, (burst, refill)) in table {
            assert_eq!(documented(action), Limits { burst, refill }, "{action}");
        }
    }

    #[test]
    fn the_burst_then_the_refill() {
        let bucket = Bucket::new(Limits { burst: 50.0, refill: 5.0 });
        assert_eq!(bucket.estimate(50), Duration::ZERO);
        // 240 calls: 50 at once, 190 at 5 a second.
        let estimate = bucket.estimate(240).as_secs_f64();
        assert!((estimate - 38.0).abs() < 0.1, "{estimate}");
    }

    #[test]
    fn a_throttle_empties_and_slows_the_model() {
        let bucket = Bucket::new(Limits { burst: 50.0, refill: 5.0 });
        bucket.throttled();
        assert_eq!(bucket.limits().refill, 4.0);
        assert!((bucket.estimate(1).as_secs_f64() - 0.25).abs() < 0.01);
        bucket.answered_after_waiting();
        assert!((bucket.limits().refill - 4.08).abs() < 1e-9);
    }

    #[test]
    fn how_long_the_sdk_may_retry_one_throttled_call() {
        let secs = Duration::from_secs;
        let standard = |attempts, max| RetryConfig::standard().with_max_attempts(attempts).with_max_backoff(secs(max));
        // 1 s, then doubling, capped.
        assert_eq!(sdk_retry_span(&standard(3, 2)), secs(1 + 2));
        assert_eq!(sdk_retry_span(&standard(6, 20)), secs(1 + 2 + 4 + 8 + 16));
        assert_eq!(sdk_retry_span(&standard(6, 5)), secs(1 + 2 + 4 + 5 + 5));
        assert_eq!(sdk_retry_span(&RetryConfig::disabled()), Duration::ZERO);
        assert_eq!(sdk_retry_span(&retry_config()), secs(1 + 2));
    }

    #[tokio::test]
    async fn paced_calls_retry_throttling_and_stop_at_their_time() {
        let bucket = Bucket::new(Limits { burst: 1.0, refill: 50.0 });
        let throttle = || AwsFailure {
            action: "ec2:CreateRoute",
            code: "RequestLimitExceeded".into(),
            message: "Request limit exceeded.".into(),
        };
        let mut calls = 0;
        let result = paced(&bucket, Instant::now() + Duration::from_secs(5), || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(throttle()) } else { Ok(n) } }
        })
        .await;
        assert_eq!(result.ok(), Some(3));
        // Past its time: the throttle is the answer.
        let result: Result<(), _> = paced(&bucket, Instant::now(), || async { Err(throttle()) }).await;
        assert!(result.is_err_and(|f| f.code == "RequestLimitExceeded"));
    }
}
