//! Minting for the holder of the network's mint condition key: `mint
//! create AMOUNT ADDRESS` creates new coins in a transaction whose minting
//! payload is authorized by that key (signed for the payload label
//! `minting`); the wallet pays the fee from its own coins.

use ledger::fulfillment::{FulfillContext, SignedTarget, SingleSignatureFulfillment};
use ledger::payload::{MintingOperation, Nonce};
use ledger::{
    Address, BlockHeight, CoinOutput, Fulfillment, Payload, PublicKey, Signature, Timestamp,
};
use rand_core::{OsRng, RngCore};
use serde_json::json;

use crate::build::{self, Request};
use crate::cli::MintCommand;
use crate::client::text;
use crate::commands::{Context, Report, first_address};
use crate::error::WalletError;
use crate::funds;
use crate::txfile::TransactionFile;

impl Context {
    pub(crate) async fn mint(&self, command: MintCommand) -> Result<Report, WalletError> {
        let MintCommand::Create {
            amount,
            address,
            wait,
        } = command;
        let keystore = self.keystore()?;
        let client = self.client()?;
        let network = self.network(&client).await?;
        let data = client
            .query("{ mintCondition { condition } }", json!({}))
            .await?;
        let condition = &data["mintCondition"]["condition"];
        if condition.is_null() {
            return Err(WalletError::Usage(
                "this network has no minting (no mint condition)".into(),
            ));
        }
        if condition["type"].as_str() != Some("pubkey") {
            return Err(WalletError::Usage(format!(
                "the mint condition is a {} condition; this wallet signs single-key mint conditions only",
                condition["type"]
            )));
        }
        let authority = Address::parse(&text(&condition["address"])?, &network.prefix)
            .map_err(|error| WalletError::Address(error.to_string()))?;
        let index = keystore.index_of(&authority).ok_or_else(|| {
            WalletError::Usage(format!(
                "this wallet does not hold the mint key (the mint condition pays {})",
                text(&condition["address"]).unwrap_or_default()
            ))
        })?;
        let recipient = Address::parse(address.trim(), &network.prefix)
            .map_err(|error| WalletError::Address(error.to_string()))?;
        let value = network.parse_coins(&amount)?;
        if value.is_zero() {
            return Err(WalletError::Amount("minting 0 coins is not allowed".into()));
        }
        let mut nonce = [0u8; 8];
        while nonce == [0; 8] {
            OsRng.fill_bytes(&mut nonce);
        }
        let placeholder = Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key: PublicKey([0; 32]),
            signature: Signature([0; 64]),
        });
        let operation = |mint_fulfillment: Fulfillment| {
            Payload::Minting(MintingOperation::CreateCoins {
                outputs: vec![CoinOutput {
                    value,
                    condition: ledger::Condition::PubKeyHash(recipient.hash),
                }],
                nonce: Nonce(nonce),
                mint_fulfillment,
            })
        };
        if recipient.kind != ledger::AddressKind::PubKey {
            return Err(WalletError::Address(
                "minted coins go to a single-key address".into(),
            ));
        }
        let request = Request::payload_only(
            build::condition_for(&first_address(&keystore)?, None)?,
            operation(placeholder),
        );
        let funds = funds::load(&client, &network, &keystore).await?;
        let mut file =
            TransactionFile::unsigned(&network, build::build(&network, &funds, &request)?);
        let transaction = &mut file.transaction;
        let unlocked = keystore.unlock(&self.password()?)?;
        let key = unlocked.spending_key(index as u64);
        let context = FulfillContext {
            chain_id: network.chain_id,
            transaction_id: transaction.id(),
            target: SignedTarget::Payload { label: b"minting" },
            height: BlockHeight(0),
            timestamp: Timestamp(0),
        };
        let public_key = key.public_key();
        let signature = key.sign(&ledger::fulfillment::signing_message(
            &context,
            &public_key,
            None,
        ));
        transaction.payload = Some(operation(Fulfillment::SingleSignature(
            SingleSignatureFulfillment {
                public_key,
                signature,
            },
        )));
        crate::commands::sign_file(&keystore, &unlocked, &mut file)?;
        let mut report = self.submit(&client, &network, &file, &wait).await?;
        report.json["minted"] = json!(network.coins(value));
        Ok(report)
    }
}
