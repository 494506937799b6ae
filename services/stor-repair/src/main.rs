//! The `stor-repair` binary: configuration → [`stor_repair::run`].

use clap::Parser;
use stor_repair::settings::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if cli.show_key {
        return match cli.show_key() {
            Ok(text) => {
                println!("{text}");
                std::process::ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("stor-repair: {error}");
                std::process::ExitCode::from(2)
            }
        };
    }
    let settings = match cli.resolve() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("stor-repair: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    service::init_tracing(settings.log_json);
    let shutdown = service::shutdown_on_signals();
    // The bound address on standard output lets scripts and tests use port 0.
    let result = stor_repair::run(settings, shutdown, |address| {
        println!("listening {address}")
    })
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("stor-repair: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
