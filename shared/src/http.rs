//! One HTTP stack for everything a function sends: the AWS SDK's calls, the PUT of a
//! CloudFormation response and the chat webhook's POST. All of them go through the SDK's own
//! hyper + rustls connector (`aws-smithy-http-client`) with one TLS context, made at init from
//! Mozilla's roots compiled into the binary (no file is read). Our connector is built at init;
//! the SDK builds its own from the same context on a client's first call (it makes one per
//! timeout setting, when first asked).

use std::time::Duration;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::http::{HttpConnector, SharedHttpClient};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;

use crate::retry::Failure;

pub use http::Uri;

/// The TLS provider of every connection: rustls with ring. The SDK's default client uses aws-lc,
/// which would add ~1 MB to each zip (issue #18); ring gives up only post-quantum key exchange.
fn provider() -> tls::Provider {
    tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring)
}

/// The trust roots: Mozilla's, compiled in (`webpki-root-certs`), so init reads no file.
fn tls_context() -> TlsContext {
    let mut store = TrustStore::empty().with_native_roots(false);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        store.add_pem_certificate(pem(cert));
    }
    TlsContext::builder().with_trust_store(store).build().unwrap_or_default()
}

/// A DER certificate as PEM, which is how the SDK's trust store takes it.
fn pem(der: &[u8]) -> Vec<u8> {
    let body = aws_smithy_types::base64::encode(der);
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 60);
    out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END CERTIFICATE-----\n");
    out
}

/// The HTTP client of one process: give [`Self::sdk`] to the SDK's config and use
/// [`Self::deliver`] for the requests the SDK does not make.
#[derive(Clone)]
pub struct Http {
    sdk: SharedHttpClient,
    own: std::sync::Arc<Connector>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Http")
    }
}

/// How long a connection may take to open: a response or webhook host that does not answer
/// is retried, not waited on for the whole budget.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The SDK's HTTPS client alone, for a function that sends nothing else (no connector of ours
/// is built).
pub fn sdk_client() -> SharedHttpClient {
    sdk_client_with(tls_context())
}

fn sdk_client_with(context: TlsContext) -> SharedHttpClient {
    Builder::new().tls_provider(provider()).tls_context(context).build_https()
}

impl Http {
    pub fn new() -> Self {
        let context = tls_context();
        let sdk = sdk_client_with(context.clone());
        let settings = aws_smithy_runtime_api::client::http::HttpConnectorSettings::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build();
        // Our own requests honour HTTP(S)_PROXY and NO_PROXY, as the HTTP client before this did;
        // the SDK's client keeps the SDK's default (no proxy unless configured).
        let own = Connector::builder()
            .connector_settings(settings)
            .proxy_config(ProxyConfig::from_env())
            .tls_provider(provider())
            .tls_context(context)
            .build();
        Self { sdk, own: std::sync::Arc::new(own) }
    }

    /// For [`crate::aws::sdk_config`].
    pub fn sdk(&self) -> SharedHttpClient {
        self.sdk.clone()
    }

    /// Send `request` and judge the answer by the one rule for the requests the SDK does not make
    /// (a CloudFormation response, a webhook's post): 2xx is delivered; 429, 5xx and no answer
    /// are worth another try (the receiver is busy, failing or out of reach); any other status is
    /// final (an expired URL, a deleted webhook or a refused payload will not get better).
    pub async fn deliver(&self, request: Request<'_>, budget: Duration) -> Result<u16, Failure<Undelivered>> {
        match self.send(request, budget).await {
            Ok(status) => judge(status),
            Err(e) => Err(Failure::Retryable(Undelivered::Send(e))),
        }
    }

    /// Send one request and return the answer's status; the body is not read. Errors never name
    /// the URL (a presigned URL or a webhook's URL is a credential).
    async fn send(&self, request: Request<'_>, budget: Duration) -> Result<u16, SendError> {
        let mut http = HttpRequest::new(SdkBody::from(request.body));
        http.set_method(request.method).map_err(|_| SendError::Transport("bad method".into()))?;
        http.set_uri(request.url.to_string()).map_err(|_| SendError::Transport("bad URL".into()))?;
        http.headers_mut().insert("content-type", request.content_type.to_string());
        http.headers_mut().insert("user-agent", USER_AGENT);
        match tokio::time::timeout(budget, self.own.call(http)).await {
            Err(_) => Err(SendError::Timeout(budget)),
            Ok(Err(e)) => Err(SendError::Transport(crate::error_chain(&e))),
            Ok(Ok(answer)) => Ok(answer.status().as_u16()),
        }
    }
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

const USER_AGENT: &str = concat!("ecs-plumbing/", env!("CARGO_PKG_VERSION"));

/// One request the SDK does not make.
pub struct Request<'a> {
    pub method: &'static str,
    pub url: &'a Uri,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Transport(String),
}

/// The rule of [`Http::deliver`] for an answer's status.
fn judge(status: u16) -> Result<u16, Failure<Undelivered>> {
    match status {
        200..=299 => Ok(status),
        429 | 500.. => Err(Failure::Retryable(Undelivered::Status(status))),
        _ => Err(Failure::Final(Undelivered::Status(status))),
    }
}

/// Why a request was not delivered (see [`Http::deliver`]); never names the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Undelivered {
    #[error("HTTP {0}")]
    Status(u16),
    #[error(transparent)]
    Send(SendError),
}

/// An absolute http(s) URL with a host, or `None`. The one parser for the URLs the functions are
/// given (CloudFormation's `ResponseURL`, the webhook's).
pub fn absolute_url(text: &str) -> Option<Uri> {
    let uri: Uri = text.parse().ok()?;
    (uri.scheme().is_some() && uri.host().is_some_and(|h| !h.is_empty())).then_some(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_urls_only() {
        for ok in ["https://b.s3.amazonaws.com/a?X-Amz-Signature=1", "http://127.0.0.1:8080/r", "https://[::1]/x"] {
            assert!(absolute_url(ok).is_some(), "{ok}");
        }
        for bad in ["", "not a url", "/just/a/path", "hooks.slack.com/services/T0", "https://", "file:///etc/passwd"] {
            assert!(absolute_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn statuses_are_judged_by_one_rule() {
        for (status, want) in [
            (200, "delivered"),
            (204, "delivered"),
            (301, "final"),
            (400, "final"),
            (403, "final"),
            (404, "final"),
            (429, "retry"),
            (500, "retry"),
            (503, "retry"),
        ] {
            let got = match judge(status) {
                Ok(_) => "delivered",
                Err(Failure::Retryable(_)) => "retry",
                Err(Failure::Final(_)) => "final",
            };
            assert_eq!(got, want, "HTTP {status}");
        }
    }

    #[test]
    fn the_compiled_in_roots_make_a_trust_store() {
        let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        assert!(roots.len() > 100, "Mozilla's list has ~150 roots");
        let pem = pem(&roots[0]);
        assert!(pem.starts_with(b"-----BEGIN CERTIFICATE-----\n") && pem.ends_with(b"-----END CERTIFICATE-----\n"));
        assert!(pem.split(|b| *b == b'\n').all(|line| line.len() <= 64));
    }

    #[tokio::test]
    async fn a_failed_request_never_names_its_url() {
        // Nothing listens on port 1.
        let url = absolute_url("http://127.0.0.1:1/path-secret?X-Amz-Signature=query-secret").expect("a URL");
        let http = Http::new();
        let request = Request { method: "PUT", url: &url, content_type: "", body: b"{}".to_vec() };
        let err = http.send(request, Duration::from_secs(5)).await.expect_err("refused");
        let text = err.to_string();
        assert!(matches!(err, SendError::Transport(_)), "{err:?}");
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("Connection refused"), "says why: {text}");
    }
}
