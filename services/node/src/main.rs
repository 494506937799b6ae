//! The `node` binary: configuration (flags, environment, file) → wiring.
//! Everything else lives in the library (`node::runtime`).

use clap::Parser;
use node::settings::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let log_json = cli.options.log_json.unwrap_or(false);
    service::init_tracing(log_json);
    let settings = match cli.options.resolve() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("node: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            let shutdown = service::shutdown_on_signals();
            node::runtime::run(settings, shutdown).await
        }
        Command::Republish { from, to } => node::runtime::republish(settings, from, to).await,
        Command::DevnetWallet { out } => devnet_wallet(&out),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("node: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn devnet_wallet(out: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let text = node::keys::devnet_wallet_file();
    std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    let key = node::keys::derive_key(
        &node::keys::DEVNET_GENESIS_SEED,
        node::keys::Derivation::Raw,
        0,
    );
    let address = ledger::Address::for_public_key(&key.public_key())
        .to_text("bsdev")
        .context("encoding the devnet address")?;
    print!("{text}");
    println!("# address: {address}");
    Ok(())
}
