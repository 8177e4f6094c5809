//! Where and until when one run paces its AWS calls. AWS meters each action per account and
//! Region with a token bucket ("Request throttling for the Amazon ECS API", ECS API reference:
//! "Amazon ECS throttles all API requests for each AWS account on a per-Region basis"), so a call
//! first takes a token from [`shared::pace`]'s model of that bucket, and a throttled answer is
//! tried again while there is time for it. What the run keeps after [`Pace::until`] is for the
//! completion or the hand-over to the next run: a throttle is never why a drain fails.

pub use shared::pace::Pace;

/// The account of an ARN (`arn:aws:ecs:us-east-1:123456789012:container-instance/…`).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|account| !account.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_of_an_arn() {
        let arn = "arn:aws-cn:ecs:cn-north-1:123456789012:container-instance/prod/0f1e";
        assert_eq!(account_of(arn), Some("123456789012"));
        assert_eq!(account_of("arn:aws:s3:::bucket"), None);
        assert_eq!(account_of("not an arn"), None);
    }
}
