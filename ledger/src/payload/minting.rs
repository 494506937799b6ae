//! Minting: create coins out of nothing, hand the minting power to a new
//! condition, or destroy coins. Creation and handover are authorized by a
//! fulfillment of the mint condition held in consensus state (checked by
//! the stateful rules against the condition at the block's height);
//! destruction burns `Σ coin inputs − Σ coin outputs − fee` and needs no
//! authority.

use super::{DomainPayload, Nonce, Payload, PayloadError};
use crate::condition::{Condition, TimeLockedCondition};
use crate::fulfillment::Fulfillment;
use crate::params::NetworkParams;
use crate::transaction::{CoinOutput, Transaction};
use crate::types::Currency;

const NAME: &str = "minting";

/// A minting operation. The encoded tag is the variant index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum MintingOperation {
    CreateCoins {
        outputs: Vec<CoinOutput>,
        nonce: Nonce,
        mint_fulfillment: Fulfillment,
    },
    ChangeMintCondition {
        new_condition: Condition,
        nonce: Nonce,
        mint_fulfillment: Fulfillment,
    },
    DestroyCoins {
        nonce: Nonce,
    },
}

/// Checks that a condition can hold authority (mint or address authority):
/// standard, and a public-key hash, a multisig, or a time lock of one of those.
pub(crate) fn check_authority_condition(
    payload: &'static str,
    condition: &Condition,
) -> Result<(), PayloadError> {
    condition
        .check_standard()
        .map_err(|source| PayloadError::NonStandardNewCondition { payload, source })?;
    let supported = match condition {
        Condition::PubKeyHash(_) | Condition::Multisig(_) => true,
        Condition::TimeLock(time_lock) => !matches!(time_lock.inner, TimeLockedCondition::Nil),
        Condition::Nil | Condition::AtomicSwap(_) => false,
    };
    if supported {
        Ok(())
    } else {
        Err(PayloadError::UnsupportedNewCondition {
            payload,
            kind: condition.kind_name(),
        })
    }
}

pub(crate) fn check_nonce_and_authorization(
    payload: &'static str,
    nonce: &Nonce,
    authorization: &Fulfillment,
) -> Result<(), PayloadError> {
    if nonce.is_zero() {
        return Err(PayloadError::ZeroNonce { payload });
    }
    authorization
        .check_standard()
        .map_err(|source| PayloadError::NonStandardAuthorization { payload, source })
}

impl DomainPayload for MintingOperation {
    fn label(&self) -> &'static [u8] {
        b"minting"
    }

    fn validate_stateless(
        &self,
        transaction: &Transaction,
        _params: &NetworkParams,
    ) -> Result<(), PayloadError> {
        match self {
            MintingOperation::CreateCoins {
                outputs,
                nonce,
                mint_fulfillment,
            } => {
                check_nonce_and_authorization(NAME, nonce, mint_fulfillment)?;
                if outputs.is_empty() {
                    return Err(PayloadError::NoMintedOutputs);
                }
                for (index, output) in outputs.iter().enumerate() {
                    if output.value.is_zero() {
                        return Err(PayloadError::ZeroValueMintedOutput { index });
                    }
                    output.condition.check_standard().map_err(|source| {
                        PayloadError::NonStandardMintedOutput { index, source }
                    })?;
                }
                Currency::checked_sum(outputs.iter().map(|output| output.value))
                    .ok_or(PayloadError::MintedSumOverflow)?;
                Ok(())
            }
            MintingOperation::ChangeMintCondition {
                new_condition,
                nonce,
                mint_fulfillment,
            } => {
                check_nonce_and_authorization(NAME, nonce, mint_fulfillment)?;
                check_authority_condition(NAME, new_condition)
            }
            MintingOperation::DestroyCoins { nonce } => {
                if nonce.is_zero() {
                    return Err(PayloadError::ZeroNonce { payload: NAME });
                }
                if transaction.coin_inputs.is_empty() {
                    return Err(PayloadError::DestroyWithoutInputs);
                }
                Ok(())
            }
        }
    }

    fn authorization(&self) -> Option<&Fulfillment> {
        match self {
            MintingOperation::CreateCoins {
                mint_fulfillment, ..
            }
            | MintingOperation::ChangeMintCondition {
                mint_fulfillment, ..
            } => Some(mint_fulfillment),
            MintingOperation::DestroyCoins { .. } => None,
        }
    }

    fn without_authorization(&self) -> Payload {
        let mut stripped = self.clone();
        match &mut stripped {
            MintingOperation::CreateCoins {
                mint_fulfillment, ..
            }
            | MintingOperation::ChangeMintCondition {
                mint_fulfillment, ..
            } => *mint_fulfillment = Fulfillment::Nil,
            MintingOperation::DestroyCoins { .. } => {}
        }
        Payload::Minting(stripped)
    }

    fn created_coin_outputs(&self) -> &[CoinOutput] {
        match self {
            MintingOperation::CreateCoins { outputs, .. } => outputs,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::{MultisigCondition, StandardnessError, TimeLockCondition};
    use crate::crypto::{PublicKey, SecretKey, Signature};
    use crate::fulfillment::{FulfillmentError, SingleSignatureFulfillment};
    use crate::types::Hash32;

    fn signature() -> Fulfillment {
        Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key: PublicKey([1; 32]),
            signature: Signature([2; 64]),
        })
    }

    fn create(outputs: Vec<CoinOutput>) -> MintingOperation {
        MintingOperation::CreateCoins {
            outputs,
            nonce: Nonce([1; 8]),
            mint_fulfillment: signature(),
        }
    }

    fn output(value: u128) -> CoinOutput {
        CoinOutput {
            value: Currency(value),
            condition: Condition::PubKeyHash(Hash32([3; 32])),
        }
    }

    fn check(operation: &MintingOperation) -> Result<(), PayloadError> {
        operation.validate_stateless(&Transaction::new(), &NetworkParams::devnet())
    }

    #[test]
    fn create_coins_rules() {
        assert_eq!(check(&create(vec![output(5)])), Ok(()));
        assert_eq!(check(&create(vec![])), Err(PayloadError::NoMintedOutputs));
        assert_eq!(
            check(&create(vec![output(5), output(0)])),
            Err(PayloadError::ZeroValueMintedOutput { index: 1 })
        );
        assert_eq!(
            check(&create(vec![output(u128::MAX), output(1)])),
            Err(PayloadError::MintedSumOverflow)
        );
        let mut bad = output(1);
        bad.condition = Condition::PubKeyHash(Hash32::ZERO);
        assert_eq!(
            check(&create(vec![bad])),
            Err(PayloadError::NonStandardMintedOutput {
                index: 0,
                source: StandardnessError::ZeroPubKeyHash
            })
        );
        let zero_nonce = MintingOperation::CreateCoins {
            outputs: vec![output(1)],
            nonce: Nonce([0; 8]),
            mint_fulfillment: signature(),
        };
        assert_eq!(
            check(&zero_nonce),
            Err(PayloadError::ZeroNonce { payload: "minting" })
        );
        let unsigned = MintingOperation::CreateCoins {
            outputs: vec![output(1)],
            nonce: Nonce([1; 8]),
            mint_fulfillment: Fulfillment::Nil,
        };
        assert_eq!(
            check(&unsigned),
            Err(PayloadError::NonStandardAuthorization {
                payload: "minting",
                source: FulfillmentError::NilFulfillment
            })
        );
    }

    #[test]
    fn change_mint_condition_rules() {
        let change = |new_condition| MintingOperation::ChangeMintCondition {
            new_condition,
            nonce: Nonce([1; 8]),
            mint_fulfillment: signature(),
        };
        assert_eq!(
            check(&change(Condition::PubKeyHash(Hash32([4; 32])))),
            Ok(())
        );
        let keys = [5u8, 6].map(|seed| SecretKey::from_seed([seed; 32]).public_key());
        assert_eq!(
            check(&change(Condition::Multisig(MultisigCondition::new(
                2,
                keys.to_vec()
            )))),
            Ok(())
        );
        assert_eq!(
            check(&change(Condition::Nil)),
            Err(PayloadError::UnsupportedNewCondition {
                payload: "minting",
                kind: "nil"
            })
        );
        assert_eq!(
            check(&change(Condition::TimeLock(TimeLockCondition {
                lock: 5,
                inner: TimeLockedCondition::Nil
            }))),
            Err(PayloadError::UnsupportedNewCondition {
                payload: "minting",
                kind: "time lock"
            })
        );
        assert!(matches!(
            check(&change(Condition::PubKeyHash(Hash32::ZERO))),
            Err(PayloadError::NonStandardNewCondition { .. })
        ));
    }

    #[test]
    fn destroy_coins_needs_inputs() {
        let destroy = MintingOperation::DestroyCoins {
            nonce: Nonce([1; 8]),
        };
        assert_eq!(check(&destroy), Err(PayloadError::DestroyWithoutInputs));
        assert_eq!(destroy.authorization(), None);
    }

    #[test]
    fn authorization_is_stripped_for_the_id() {
        let operation = create(vec![output(1)]);
        assert_eq!(operation.authorization(), Some(&signature()));
        let Payload::Minting(stripped) = operation.without_authorization() else {
            panic!("minting stays minting");
        };
        assert_eq!(stripped.authorization(), Some(&Fulfillment::Nil));
        assert_eq!(stripped.created_coin_outputs(), &[output(1)]);
    }
}
