use endpoint_access::EndpointAccess;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let http = shared::http::Http::new();
    let config = shared::aws::sdk_config(http.sdk()).await;
    shared::custom_resource::run(EndpointAccess::new(&config), http).await
}
