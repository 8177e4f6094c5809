//! The testbed of the integration tests: real components on 127.0.0.1, started by the tests and
//! stopped by PID when dropped.
//!
//! - [`Moto`]: moto's server (with the lifecycle actions moto lacks) as the AWS endpoint.
//! - [`Proxy`]: counts AWS calls by action and injects faults, between the functions and moto.
//! - [`Receiver`]: records CloudFormation response PUTs and webhook POSTs.
//! - [`Lambda`]: the Lambda Runtime Interface Emulator running a built `bootstrap`.
//! - [`alerts::AlertsRig`]: all of that for task-alerts, with an SNS topic and chat webhooks.
//! - [`drain::DrainRig`]: all of that for lifecycle-drain, with an ECS container instance and its tasks.
//! - [`faults`]: the fault matrix's machinery (faults, cases, the summary line) every function's
//!   matrix shares.
//! - [`CfnRequest`]: the CloudFormation requests the tests send, each from a function's sample request.
//!
//! The Python venv (`.venv`, made by `make venv`) provides moto and the emulator.

pub mod alerts;
mod aws;
mod cfn;
pub mod drain;
pub mod ec2;
pub mod faults;
mod lambda;
mod paths;
mod process;
pub mod rig;
mod servers;

pub use aws::{Aws, sqs_event};
pub use cfn::{CfnRequest, SIGNATURE, STACK_ID, response_url};
pub use lambda::{Invocation, Lambda, outcome};
pub use paths::{binary, lambda_artifact, repo_root, sample_event, sample_events, target_dir, venv};
pub use process::{Process, free_port};
pub use rig::Rig;
pub use servers::{Call, Calls, Moto, Proxy, Received, Receiver, agent};
