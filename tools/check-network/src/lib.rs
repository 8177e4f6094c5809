//! `check-network`: can this ECS service's tasks reach what they need? The rules of
//! `Custom::EndpointAccess` (`endpoint_access::plan`) and its observation (`endpoint_access::ec2`),
//! as a command that reports instead of changing anything.
//!
//! - [`args`]: the command line, parsed into what to read and what to check (pure).
//! - [`model`]: the observed network as plain structs.
//! - [`ecs`]: the service's network configuration and what its task definition needs.
//! - [`observe`]: EC2 reads into the model.
//! - [`findings`]: pure decisions, one finding per thing the tasks need, table-tested.
//! - [`run`]: args to exit code.

// Code that ships never unwraps input or AWS data.
#![warn(clippy::unwrap_used)]

pub mod args;
pub mod ecs;
pub mod error;
pub mod findings;
pub mod model;
pub mod observe;
pub mod run;

pub use error::CheckError;
