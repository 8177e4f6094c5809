//! `Custom::VpcPeering`: a peering connection with DNS resolution and routes on both sides.
//!
//! - [`properties`]: what a user writes in a template, validated before any call.
//! - [`model`]: plain structs the function observes and the actions it plans.
//! - [`plan`]: pure decisions (routes to add and remove, conflicts, overlaps), table-tested.
//! - [`ec2`]: effects, one side at a time (reads into the model, writes with error mapping).
//! - [`settle`]: waiting for AWS to catch up (a connection visible, active on both sides).
//! - [`resource`]: create, update and delete, in that order of observe, check, apply.

// Code that ships never unwraps input or AWS data: a panic would fail a stack or drop an alert.
#![warn(clippy::unwrap_used)]

mod checks;
pub mod ec2;
pub mod error;
pub mod model;
pub mod plan;
pub mod properties;
pub mod resource;
pub mod settle;

pub use error::PeeringError;
pub use resource::VpcPeering;
