//! The PUT to the presigned `ResponseURL`, retried while the deadline allows.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use tokio::time::Instant;

/// Below this much time left an attempt could not finish; stop instead.
const MIN_ATTEMPT: Duration = Duration::from_millis(250);
const MAX_ATTEMPT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(crate) struct NotDelivered {
    pub attempts: u32,
    /// Why the last attempt failed, without the URL.
    pub last: String,
}

/// PUT `body` to `url` with an empty `Content-Type` (the URL was presigned without one).
/// Connection errors, 429 and 5xx are retried with backoff until `deadline`; other statuses
/// are final (an expired or tampered URL will not get better).
pub(crate) async fn put_response(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    deadline: Instant,
) -> Result<u32, NotDelivered> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < MIN_ATTEMPT {
            let last = if attempts == 0 {
                "no time was left before the deadline".to_string()
            } else {
                "deadline reached".to_string()
            };
            return Err(NotDelivered { attempts, last });
        }
        attempts += 1;
        let sent =
            http.put(url).header(CONTENT_TYPE, "").body(body.clone()).timeout(left.min(MAX_ATTEMPT)).send().await;
        let failure = match sent {
            Ok(r) if r.status().is_success() => return Ok(attempts),
            Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => format!("HTTP {}", r.status()),
            Ok(r) => return Err(NotDelivered { attempts, last: format!("HTTP {} (not retried)", r.status()) }),
            // without_url: the presigned URL must never reach a log line.
            Err(e) => e.without_url().to_string(),
        };
        tracing::warn!(attempt = attempts, failure = %failure, "response PUT failed; retrying");
        let left = deadline.saturating_duration_since(Instant::now());
        if left < backoff + MIN_ATTEMPT {
            return Err(NotDelivered { attempts, last: failure });
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
