//! Lifecycle draining: on an instance-terminate lifecycle action, drain the ECS container instance,
//! wait until its tasks have stopped (across runs if needed), then complete the action.
//!
//! - [`job`]: the event (or the queued continuation) as a [`job::DrainJob`] that carries its own completion step.
//! - [`plan`]: the wait loop's decisions, a pure function of the tasks and the clock.
//! - [`ecs`], [`lifecycle`]: the AWS reads and writes, paced to AWS's request rates ([`pacing`]).
//!   [`handler`]: the loop.

// Code that ships never unwraps input or AWS data: a panic would fail a stack or drop an alert.
#![warn(clippy::unwrap_used)]

pub mod config;
pub mod ecs;
pub mod error;
pub mod handler;
pub mod job;
pub mod lifecycle;
pub mod pacing;
pub mod plan;

pub use config::Config;
pub use handler::{Drainer, handle};
