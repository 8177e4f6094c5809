//! The PUT to the presigned `ResponseURL`, retried while the deadline allows.

use tokio::time::Instant;

use crate::http::{Http, Request, Uri};

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
    http: &Http,
    url: &Uri,
    body: Vec<u8>,
    deadline: Instant,
) -> Result<u32, NotDelivered> {
    let put = |budget| {
        let request = Request { method: "PUT", url, content_type: "", body: body.clone() };
        let sent = http.send(request, budget);
        async move {
            match sent.await {
                Ok(status) if (200..300).contains(&status) => Ok(()),
                Ok(status) if status >= 500 || status == 429 => Err(Failure::Retryable(format!("HTTP {status}"))),
                Ok(status) => Err(Failure::Final(format!("HTTP {status} (not retried)"))),
                // The error never holds the URL: the presigned URL must never reach a log line.
                Err(e) => Err(Failure::Retryable(e.to_string())),
            }
        }
    };
    match until_deadline("response PUT", deadline, put).await {
        Ok(((), attempts)) => Ok(attempts),
        Err(GaveUp { attempts, last }) => Err(NotDelivered { attempts, last: last.to_string() }),
    }
}
