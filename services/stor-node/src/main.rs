//! The `stor-node` binary: configuration → [`stor_node::run`], through
//! [`service::run_main`] (tracing, signals, `listening <address>`, exit codes).

use clap::Parser;
use stor_node::settings::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    service::run_main(
        "stor-node",
        cli.resolve(),
        |settings| settings.log_json,
        stor_node::run,
    )
    .await
}
