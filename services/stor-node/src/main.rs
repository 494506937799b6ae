//! The `stor-node` binary: configuration → [`stor_node::run`].

use clap::Parser;
use stor_node::settings::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match cli.resolve() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("stor-node: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    service::init_tracing(settings.log_json);
    let shutdown = service::shutdown_on_signals();
    // The bound address on standard output lets scripts and tests use port 0.
    let result = stor_node::run(settings, shutdown, |address| {
        println!("listening {address}")
    })
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("stor-node: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
