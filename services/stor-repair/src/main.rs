//! The `stor-repair` binary: configuration → [`stor_repair::run`], through
//! [`service::run_main`] (tracing, signals, `listening <address>`, exit codes).

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
    service::run_main(
        "stor-repair",
        cli.resolve(),
        |settings| settings.log_json,
        stor_repair::run,
    )
    .await
}
