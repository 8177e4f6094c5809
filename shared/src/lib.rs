//! What every ecs-plumbing function shares, and nothing else: the custom-resource protocol
//! (no business rules), telemetry setup, and AWS SDK configuration from the environment.

pub mod aws;
pub mod custom_resource;
pub mod telemetry;
