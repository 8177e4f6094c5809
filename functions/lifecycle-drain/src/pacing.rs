//! Where and until when one run paces its AWS calls. AWS meters each action per account and
//! Region with a token bucket ("Request throttling for the Amazon ECS API", ECS API reference:
//! "Amazon ECS throttles all API requests for each AWS account on a per-Region basis"), so a call
//! first takes a token from [`shared::pace`]'s model of that bucket, and a throttled answer is
//! tried again while there is time for it. What the run keeps after [`Pace::until`] is for the
//! completion or the hand-over to the next run: a throttle is never why a drain fails.

use std::time::Duration;

use aws_config::retry::RetryConfig;

pub use shared::pace::Pace;

/// A bound on how long the SDK can spend on one call that AWS keeps throttling, under `retry`
/// (standard mode, as `shared::pace::retry_config`): it waits `initial × 2^n` before retry n,
/// capped at the maximum (its jitter only shortens that). A call [`Pace::call`] starts just before
/// [`Pace::until`] can end this much later.
pub fn sdk_retry_span(retry: &RetryConfig) -> Duration {
    (0..retry.max_attempts().saturating_sub(1))
        .map(|n| retry.initial_backoff().saturating_mul(1 << n.min(20)).min(retry.max_backoff()))
        .sum()
}

/// The account of an ARN (`arn:aws:ecs:us-east-1:123456789012:container-instance/…`).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|account| !account.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_long_the_sdk_may_retry_one_throttled_call() {
        let secs = Duration::from_secs;
        let standard = |attempts, max| RetryConfig::standard().with_max_attempts(attempts).with_max_backoff(secs(max));
        // Standard: 1 s, then doubling, capped.
        assert_eq!(sdk_retry_span(&standard(3, 2)), secs(1 + 2));
        assert_eq!(sdk_retry_span(&standard(6, 20)), secs(1 + 2 + 4 + 8 + 16));
        assert_eq!(sdk_retry_span(&standard(6, 5)), secs(1 + 2 + 4 + 5 + 5));
        assert_eq!(sdk_retry_span(&RetryConfig::disabled()), Duration::ZERO);
        assert_eq!(sdk_retry_span(&shared::pace::retry_config()), secs(1 + 2));
    }

    #[test]
    fn the_account_of_an_arn() {
        let arn = "arn:aws-cn:ecs:cn-north-1:123456789012:container-instance/prod/0f1e";
        assert_eq!(account_of(arn), Some("123456789012"));
        assert_eq!(account_of("arn:aws:s3:::bucket"), None);
        assert_eq!(account_of("not an arn"), None);
    }
}
