//! `wallet`: the blockstake wallet CLI (docs/wallet.md).
//!
//! Modules: [`cli`] (the command line), [`config`] (flags, environment,
//! config file), [`keystore`] (the encrypted keystore file), [`client`]
//! (the GraphQL API), [`funds`] (outputs and pending transactions),
//! [`build`] (coin selection, fees, signing), [`txfile`] (transaction
//! files for offline signing), [`commands`] (one function per command).
//! [`multisig`] (conditions, partial signatures, merging), [`notary`]
//! (document hashes), [`swap`] (atomic swaps), [`mint`] (minting and coin
//! destruction), [`auth`] (authorized addresses), [`authority`] (signing
//! for the mint condition or the address authority), [`identity`]
//! (identities, organizations, trust, login), [`chat`] (channels,
//! encrypted messages, live delivery, news).
//! (identities, organizations, trust, login), [`stor`] (zero storage:
//! put, get, rm, check, ls, status, node registration).
//! Further features belong in modules of their own like `notary`, building
//! a [`build::Request`] (or a transaction of their own) and using `txfile`
//! for partially signed transactions.

mod auth;
mod authority;
mod blueprint;
mod build;
mod chat;
mod cli;
mod client;
mod commands;
mod config;
mod error;
mod funds;
mod identity;
mod keystore;
mod mint;
mod multisig;
mod notary;
mod stor;
mod swap;
mod txfile;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let json = cli.global.json;
    match commands::run(cli).await {
        Ok(report) => {
            let mut stdout = std::io::stdout().lock();
            let written = if json {
                writeln!(stdout, "{}", report.json)
            } else if report.human.is_empty() {
                Ok(())
            } else {
                writeln!(stdout, "{}", report.human.trim_end())
            };
            if written.is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            if json {
                let body = serde_json::json!({
                    "error": { "code": error.code(), "message": error.to_string() }
                });
                println!("{body}");
            } else {
                eprintln!("error: {error}");
            }
            ExitCode::FAILURE
        }
    }
}
