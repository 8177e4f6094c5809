use endpoint_access::EndpointAccess;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let config = shared::aws::sdk_config().await;
    shared::custom_resource::run(EndpointAccess::new(&config)).await
}
