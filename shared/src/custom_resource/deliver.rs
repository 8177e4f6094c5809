//! The PUT to the presigned `ResponseURL`, retried while the deadline allows.

use reqwest::header::CONTENT_TYPE;
use tokio::time::Instant;

use crate::retry::{Failure, GaveUp, until_deadline};

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
    let put = |budget| {
        let sent = http.put(url).header(CONTENT_TYPE, "").body(body.clone()).timeout(budget).send();
        async move {
            match sent.await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
                    Err(Failure::Retryable(format!("HTTP {}", r.status())))
                }
                Ok(r) => Err(Failure::Final(format!("HTTP {} (not retried)", r.status()))),
                // without_url: the presigned URL must never reach a log line.
                Err(e) => Err(Failure::Retryable(e.without_url().to_string())),
            }
        }
    };
    match until_deadline("response PUT", deadline, put).await {
        Ok(((), attempts)) => Ok(attempts),
        Err(GaveUp { attempts, last }) => Err(NotDelivered { attempts, last: last.to_string() }),
    }
}
