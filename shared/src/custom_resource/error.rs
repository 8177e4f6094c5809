use super::request::EnvelopeError;

/// What the protocol returns to the Lambda runtime. Only two cases reach it: nobody can be
/// answered (no usable `ResponseURL`), or the answer could not be delivered before the deadline.
/// Either way an error result is right: Lambda retries the async invocation.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("the response to CloudFormation was not delivered after {attempts} attempt(s): {last}")]
    NotDelivered { attempts: u32, last: String },
}

/// What Lambda records as the invocation's error (`errorType`, `errorMessage`).
impl From<ProtocolError> for lambda_runtime::Diagnostic {
    fn from(err: ProtocolError) -> Self {
        let error_type = match err {
            ProtocolError::Envelope(_) => "InvalidRequest",
            ProtocolError::NotDelivered { .. } => "ResponseNotDelivered",
        };
        Self { error_type: error_type.into(), error_message: err.to_string() }
    }
}
