//! What every ecs-plumbing function shares, and nothing else: the custom-resource protocol
//! (no business rules), telemetry setup, AWS SDK configuration from the environment, pacing calls to AWS's request
//! rate limits, and retrying until the Lambda deadline.

pub mod aws;
pub mod custom_resource;
pub mod http;
pub mod pace;
pub mod retry;
pub mod telemetry;
