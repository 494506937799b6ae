//! Building transactions: coin selection largest first, a fee that meets
//! the network's size-based minimum (computed on the signed size:
//! signatures have a fixed length), change back to the wallet, optional
//! arbitrary data and time locks; and signing their inputs.

use ledger::condition::{MultisigCondition, TimeLockCondition, TimeLockedCondition};
use ledger::fulfillment::{
    FulfillContext, InputKind, KeySignature, MultiSignatureFulfillment, SignedTarget,
    SingleSignatureFulfillment, signing_message,
};
use ledger::{
    Address, AddressKind, BlockHeight, BlockStakeInput, BlockStakeOutput, BlockStakeOutputId,
    BlockStakes, ChainId, CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment,
    PublicKey, SecretKey, Signature, Timestamp, Transaction,
};

use crate::client::NetworkInfo;
use crate::error::WalletError;
use crate::funds::{Asset, Funds, Owned};
use crate::txfile::InputInfo;

/// One output to create.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub address: Address,
    /// Base units of coins, or blockstakes.
    pub value: u128,
    /// Raw lock value: a height below 500,000,000, else unix seconds.
    pub lock: Option<u64>,
    /// Pay this multisig condition instead of the address's key.
    pub multisig: Option<MultisigCondition>,
    /// Pay exactly this condition (e.g. an atomic swap) instead.
    pub condition: Option<Condition>,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Request {
    pub asset: Asset,
    pub recipients: Vec<Recipient>,
    pub data: Vec<u8>,
    /// At least this fee (the minimum is used when higher).
    pub fee: Option<Currency>,
    pub change: Condition,
    /// The inputs' condition when they are a multisig's (their signatures
    /// are then `required` pairs); else single-key inputs.
    pub multisig: Option<MultisigCondition>,
    /// A domain payload (e.g. a notary record).
    pub payload: Option<ledger::Payload>,
    /// Coins (base units) the inputs cover beyond outputs and fee: burned
    /// by a coin destruction.
    pub burn: u128,
}

impl Request {
    /// A transaction that only carries `payload`: inputs pay its fee,
    /// change goes to `change`.
    pub fn payload_only(change: Condition, payload: ledger::Payload) -> Request {
        Request {
            asset: Asset::Coin,
            recipients: Vec::new(),
            data: Vec::new(),
            fee: None,
            change,
            multisig: None,
            payload: Some(payload),
            burn: 0,
        }
    }
}

/// A built, unsigned transaction and where its inputs come from.
#[derive(Debug, Clone)]
pub struct Built {
    pub transaction: Transaction,
    pub inputs: Vec<InputInfo>,
}

/// The condition paying `address`, time-locked when asked.
pub fn condition_for(address: &Address, lock: Option<u64>) -> Result<Condition, WalletError> {
    let inner = match address.kind {
        AddressKind::PubKey => TimeLockedCondition::PubKeyHash(address.hash),
        AddressKind::Nil => TimeLockedCondition::Nil,
        AddressKind::Multisig | AddressKind::AtomicSwap => {
            return Err(WalletError::Address(
                "a multisig or atomic swap address is the hash of its condition: paying it needs the whole condition (keys and m, or the contract), which the address alone does not give".into(),
            ));
        }
    };
    Ok(match lock {
        Some(lock) => Condition::TimeLock(TimeLockCondition { lock, inner }),
        None => inner.to_condition(),
    })
}

/// A placeholder fulfillment of the signed size, for fee estimation.
fn placeholder(multisig: Option<&MultisigCondition>) -> Fulfillment {
    match multisig {
        Some(condition) => Fulfillment::MultiSignature(MultiSignatureFulfillment {
            pairs: (0..condition.required)
                .map(|_| KeySignature {
                    public_key: PublicKey([0; 32]),
                    signature: Signature([0; 64]),
                })
                .collect(),
        }),
        None => Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key: PublicKey([0; 32]),
            signature: Signature([0; 64]),
        }),
    }
}

/// Builds an unsigned transaction from the wallet's spendable outputs.
pub fn build(
    network: &NetworkInfo,
    funds: &Funds,
    request: &Request,
) -> Result<Built, WalletError> {
    if request.recipients.is_empty() && request.payload.is_none() {
        return Err(WalletError::Usage(
            "nothing to send: give at least one output".into(),
        ));
    }
    if request.data.len() as u64 > network.arbitrary_data_limit {
        return Err(WalletError::Usage(format!(
            "arbitrary data is {} bytes; the network allows {}",
            request.data.len(),
            network.arbitrary_data_limit
        )));
    }
    let mut outputs = Vec::new();
    for recipient in &request.recipients {
        if recipient.value == 0 {
            return Err(WalletError::Amount("an output of 0 is not allowed".into()));
        }
        let condition = match (&recipient.condition, &recipient.multisig) {
            (Some(condition), _) => condition.clone(),
            (None, multisig) => match multisig {
                Some(multisig) => match recipient.lock {
                    Some(lock) => Condition::TimeLock(TimeLockCondition {
                        lock,
                        inner: TimeLockedCondition::Multisig(multisig.clone()),
                    }),
                    None => Condition::Multisig(multisig.clone()),
                },
                None => condition_for(&recipient.address, recipient.lock)?,
            },
        };
        outputs.push((recipient.value, condition));
    }
    let total: u128 = outputs
        .iter()
        .try_fold(0u128, |sum, (value, _)| sum.checked_add(*value))
        .ok_or_else(|| WalletError::Amount("the outputs add up to more than exists".into()))?;
    let change = request.change.clone();
    let stand_in = || placeholder(request.multisig.as_ref());
    let params = network.params();

    // Blockstake part (blockstake sends): inputs covering `total`.
    let mut transaction = Transaction::new();
    transaction.arbitrary_data = request.data.clone();
    transaction.payload = request.payload.clone();
    let mut inputs = Vec::new();
    let mut coin_target = 0u128;
    match request.asset {
        Asset::Coin => {
            coin_target = total
                .checked_add(request.burn)
                .ok_or_else(|| WalletError::Amount("amount overflows".into()))?;
            for (value, condition) in &outputs {
                transaction.coin_outputs.push(CoinOutput {
                    value: Currency(*value),
                    condition: condition.clone(),
                });
            }
        }
        Asset::BlockStake => {
            let spendable = funds.spendable(Asset::BlockStake);
            let available: u128 = spendable.iter().map(|o| o.value).sum();
            let mut picked = 0u128;
            for output in spendable {
                if picked >= total {
                    break;
                }
                picked += output.value;
                push_input(&mut transaction, &mut inputs, output, network, request);
            }
            if picked < total {
                let totals = funds.totals(Asset::BlockStake);
                return Err(WalletError::InsufficientBlockstakes {
                    available: available as u64,
                    needed: total as u64,
                    hint: hint(network, totals.pending_spent, 0, 0, false),
                });
            }
            for (value, condition) in &outputs {
                transaction.blockstake_outputs.push(BlockStakeOutput {
                    value: BlockStakes(*value as u64),
                    condition: condition.clone(),
                });
            }
            if picked > total {
                transaction.blockstake_outputs.push(BlockStakeOutput {
                    value: BlockStakes((picked - total) as u64),
                    condition: change.clone(),
                });
            }
        }
    }

    // Coin part: inputs covering the coin outputs and the fee; grow until
    // the fee for the signed size is covered.
    let spendable = funds.spendable(Asset::Coin);
    let available: u128 = spendable.iter().map(|o| o.value).sum();
    let requested_fee = request.fee.unwrap_or(Currency::ZERO);
    let mut coin_inputs = 0usize;
    let mut picked = 0u128;
    loop {
        let mut trial = transaction.clone();
        for input in &mut trial.blockstake_inputs {
            input.fulfillment = stand_in();
        }
        for output in spendable.iter().take(coin_inputs) {
            trial.coin_inputs.push(CoinInput {
                parent_id: CoinOutputId(output.id),
                fulfillment: stand_in(),
            });
        }
        // With a change output (its size counts whether or not it is needed).
        trial.coin_outputs.push(CoinOutput {
            value: Currency(u128::MAX >> 8),
            condition: change.clone(),
        });
        let minimum = trial
            .minimum_fee(&params)
            .ok_or_else(|| WalletError::Amount("fee overflows".into()))?;
        let fee = minimum.max(requested_fee);
        let needed = coin_target
            .checked_add(fee.0)
            .ok_or_else(|| WalletError::Amount("amount overflows".into()))?;
        if picked >= needed {
            for output in spendable.iter().take(coin_inputs) {
                push_input(&mut transaction, &mut inputs, output, network, request);
            }
            transaction.fee = fee;
            if picked > needed {
                transaction.coin_outputs.push(CoinOutput {
                    value: Currency(picked - needed),
                    condition: change.clone(),
                });
            }
            break;
        }
        match spendable.get(coin_inputs) {
            Some(output) => {
                picked += output.value;
                coin_inputs += 1;
            }
            None => {
                let totals = funds.totals(Asset::Coin);
                return Err(WalletError::InsufficientFunds {
                    available: network.coins(Currency(available)),
                    needed: network.coins(Currency(needed)),
                    fee: network.coins(fee),
                    hint: hint(
                        network,
                        totals.pending_spent,
                        totals.maturing,
                        totals.time_locked,
                        true,
                    ),
                });
            }
        }
    }
    Ok(Built {
        transaction,
        inputs,
    })
}

fn hint(network: &NetworkInfo, pending: u128, maturing: u128, locked: u128, coins: bool) -> String {
    let show = |value: u128| {
        if coins {
            network.coins(Currency(value))
        } else {
            value.to_string()
        }
    };
    let mut parts = Vec::new();
    if pending > 0 {
        parts.push(format!(
            "{} is held by pending transactions (wait for the next block)",
            show(pending)
        ));
    }
    if maturing > 0 {
        parts.push(format!(
            "{} is block payouts still maturing",
            show(maturing)
        ));
    }
    if locked > 0 {
        parts.push(format!("{} is time-locked", show(locked)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join("; "))
    }
}

fn push_input(
    transaction: &mut Transaction,
    inputs: &mut Vec<InputInfo>,
    output: &Owned,
    network: &NetworkInfo,
    request: &Request,
) {
    match output.asset {
        Asset::Coin => transaction.coin_inputs.push(CoinInput {
            parent_id: CoinOutputId(output.id),
            fulfillment: Fulfillment::Nil,
        }),
        Asset::BlockStake => transaction.blockstake_inputs.push(BlockStakeInput {
            parent_id: BlockStakeOutputId(output.id),
            fulfillment: Fulfillment::Nil,
        }),
    }
    inputs.push(InputInfo {
        asset: output.asset,
        address: output.address.to_text(&network.prefix).unwrap_or_default(),
        value: match output.asset {
            Asset::Coin => network.coins(Currency(output.value)),
            Asset::BlockStake => output.value.to_string(),
        },
        multisig: request.multisig.as_ref().map(crate::multisig::spec),
    });
}

/// The signature of `key` on input `index` of `kind` for the chain
/// `chain_id`.
pub fn input_signature(
    transaction: &Transaction,
    chain_id: ChainId,
    kind: InputKind,
    index: usize,
    key: &SecretKey,
    secret: Option<&[u8; 32]>,
) -> KeySignature {
    let context = FulfillContext {
        chain_id,
        transaction_id: transaction.id(),
        target: SignedTarget::Input {
            kind,
            index: index as u64,
        },
        height: BlockHeight(0),
        timestamp: Timestamp(0),
    };
    let public_key = key.public_key();
    KeySignature {
        public_key,
        signature: key.sign(&signing_message(&context, &public_key, secret)),
    }
}

/// The fulfillment slot of input `index` of `kind`.
pub fn fulfillment_mut(
    transaction: &mut Transaction,
    kind: InputKind,
    index: usize,
) -> Option<&mut Fulfillment> {
    match kind {
        InputKind::Coin => transaction
            .coin_inputs
            .get_mut(index)
            .map(|input| &mut input.fulfillment),
        InputKind::BlockStake => transaction
            .blockstake_inputs
            .get_mut(index)
            .map(|input| &mut input.fulfillment),
    }
}

/// Signs input `index` of `kind` with `key` (single signature) for the
/// chain `chain_id`.
pub fn sign_input(
    transaction: &mut Transaction,
    chain_id: ChainId,
    kind: InputKind,
    index: usize,
    key: &SecretKey,
) {
    let pair = input_signature(transaction, chain_id, kind, index, key, None);
    if let Some(slot) = fulfillment_mut(transaction, kind, index) {
        *slot = Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key: pair.public_key,
            signature: pair.signature,
        });
    }
}
