//! `check-network --cluster C --service S [--to CIDR[:port]] [--to-security-group sg-…[:port]]`:
//! one line per finding; exit 0 when everything is reachable, 1 when something is missing, 2 on
//! bad input (or when the check cannot run).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match check_network::args::parse(&args) {
        Ok(check_network::args::Parsed::Run(config)) => config,
        Ok(check_network::args::Parsed::Help) => {
            println!("{}", check_network::args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("check-network: {err}");
            return ExitCode::from(2);
        }
    };
    let sdk = shared::aws::sdk_config(shared::http::sdk_client()).await;
    ExitCode::from(check_network::run::run(&config, &sdk).await)
}
