use vpc_peering::VpcPeering;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let config = shared::aws::sdk_config().await;
    shared::custom_resource::run(VpcPeering::new(&config)).await
}
