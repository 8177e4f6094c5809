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

/// PUT `body` to `url` with an empty `Content-Type` (the URL was presigned without one), retried
/// with backoff until `deadline` as [`Http::deliver`] judges (an expired or tampered URL is final).
pub(crate) async fn put_response(
    http: &Http,
    url: &Uri,
    body: Vec<u8>,
    deadline: Instant,
) -> Result<u32, NotDelivered> {
    let put = |budget| {
        let request = Request { method: "PUT", url, content_type: "", body: body.clone() };
        // The error never holds the URL: the presigned URL must never reach a log line.
        let sent = http.deliver(request, budget);
        async move {
            match sent.await {
                Ok(_) => Ok(()),
                Err(Failure::Final(e)) => Err(Failure::Final(format!("{e} (not retried)"))),
                Err(Failure::Retryable(e)) => Err(Failure::Retryable(e.to_string())),
            }
        }
    };
    match until_deadline("response PUT", deadline, put).await {
        Ok(((), attempts)) => Ok(attempts),
        Err(GaveUp { attempts, last }) => Err(NotDelivered { attempts, last: last.to_string() }),
    }
}
