//! `Custom::EndpointAccess`: private ECS tasks can reach their VPC endpoints.
//!
//! - [`properties`]: what a user writes in a template, validated before any call.
//! - [`model`]: plain structs the function observes and the rule changes it plans.
//! - [`plan`]: pure decisions (which endpoints serve which services, which rules to add or
//!   revoke, which are already covered), table-tested.
//! - [`batch`]: the plan's changes as few EC2 writes (one per group and direction), pure too.
//! - [`ec2`]: effects (reads into the model, writes with error mapping).
//! - [`resource`]: create, update and delete: observe, check, apply.

// Code that ships never unwraps input or AWS data: a panic would fail a stack or drop an alert.
#![warn(clippy::unwrap_used)]

pub mod batch;
pub mod ec2;
pub mod error;
pub mod model;
pub mod plan;
pub mod properties;
pub mod resource;

pub use error::AccessError;
pub use resource::EndpointAccess;
