//! The CloudFormation custom-resource protocol, once for every resource type.
//!
//! A resource implements [`CustomResource`] (create, update, delete on typed properties) and
//! `main` calls [`run`]. This module owns everything else: parsing the envelope and the
//! properties, the deadline guard, the panic guard, and exactly one response PUT per request.

mod deliver;
mod error;
pub mod properties;
mod request;
mod response;
mod response_url;
mod runner;

pub use error::ProtocolError;
pub use properties::PropertiesError;
pub use request::{EnvelopeError, Request, RequestType, ResponseTarget};
pub use response::{MAX_BODY_BYTES, Response, Status};
pub use response_url::ResponseUrls;
pub use runner::{CustomResource, Outcome, Protocol, RequestContext, Settings, run};

/// Physical ids of Creates that failed start with this. No AWS id can: they never contain a
/// space. CloudFormation's rollback Delete for such an id is answered SUCCESS without any call.
pub const FAILED_CREATE_PREFIX: &str = "FAILED CREATE ";

pub fn failed_create_id(request_id: &str) -> String {
    format!("{FAILED_CREATE_PREFIX}{request_id}")
}

pub fn is_failed_create_id(physical_id: &str) -> bool {
    physical_id.starts_with(FAILED_CREATE_PREFIX)
}
