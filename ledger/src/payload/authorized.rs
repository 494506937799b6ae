//! Authorized addresses (KYC/AML): an authority condition held in
//! consensus state decides which addresses may hold coins when the network
//! enables the rule. These operations (de)authorize addresses or hand the
//! authority to a new condition; both are authorized by a fulfillment of
//! the current authority condition (checked by the stateful rules).

use super::minting::{check_authority_condition, check_nonce_and_authorization};
use super::{DomainPayload, Nonce, Payload, PayloadError};
use crate::address::{Address, AddressKind};
use crate::condition::Condition;
use crate::fulfillment::Fulfillment;
use crate::params::NetworkParams;
use crate::transaction::Transaction;

const NAME: &str = "authorized addresses";

/// An authorized-address operation. The encoded tag is the variant index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum AuthorizedAddressOperation {
    UpdateAddresses {
        authorize: Vec<Address>,
        deauthorize: Vec<Address>,
        nonce: Nonce,
        authority_fulfillment: Fulfillment,
    },
    ChangeAuthority {
        new_condition: Condition,
        nonce: Nonce,
        authority_fulfillment: Fulfillment,
    },
}

impl DomainPayload for AuthorizedAddressOperation {
    fn label(&self) -> &'static [u8] {
        b"authorized-addresses"
    }

    fn validate_stateless(
        &self,
        _transaction: &Transaction,
        _params: &NetworkParams,
    ) -> Result<(), PayloadError> {
        match self {
            AuthorizedAddressOperation::UpdateAddresses {
                authorize,
                deauthorize,
                nonce,
                authority_fulfillment,
            } => {
                check_nonce_and_authorization(NAME, nonce, authority_fulfillment)?;
                if authorize.is_empty() && deauthorize.is_empty() {
                    return Err(PayloadError::NoAddresses);
                }
                // Entries are numbered across both lists: authorize first.
                let all: Vec<&Address> = authorize.iter().chain(deauthorize.iter()).collect();
                let mut sorted: Vec<(&Address, usize)> =
                    all.iter().enumerate().map(|(i, a)| (*a, i)).collect();
                sorted.sort();
                for (index, address) in all.iter().enumerate() {
                    if address.kind == AddressKind::Nil {
                        return Err(PayloadError::NilAddress { index });
                    }
                }
                for pair in sorted.windows(2) {
                    if pair[0].0 == pair[1].0 {
                        return Err(PayloadError::DuplicateAddress {
                            address: *pair[0].0,
                            first: pair[0].1,
                            second: pair[1].1,
                        });
                    }
                }
                Ok(())
            }
            AuthorizedAddressOperation::ChangeAuthority {
                new_condition,
                nonce,
                authority_fulfillment,
            } => {
                check_nonce_and_authorization(NAME, nonce, authority_fulfillment)?;
                check_authority_condition(NAME, new_condition)
            }
        }
    }

    fn authorization(&self) -> Option<&Fulfillment> {
        match self {
            AuthorizedAddressOperation::UpdateAddresses {
                authority_fulfillment,
                ..
            }
            | AuthorizedAddressOperation::ChangeAuthority {
                authority_fulfillment,
                ..
            } => Some(authority_fulfillment),
        }
    }

    fn without_authorization(&self) -> Payload {
        let mut stripped = self.clone();
        match &mut stripped {
            AuthorizedAddressOperation::UpdateAddresses {
                authority_fulfillment,
                ..
            }
            | AuthorizedAddressOperation::ChangeAuthority {
                authority_fulfillment,
                ..
            } => *authority_fulfillment = Fulfillment::Nil,
        }
        Payload::AuthorizedAddresses(stripped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{PublicKey, Signature};
    use crate::fulfillment::SingleSignatureFulfillment;
    use crate::types::Hash32;

    fn signature() -> Fulfillment {
        Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key: PublicKey([1; 32]),
            signature: Signature([2; 64]),
        })
    }

    fn address(byte: u8) -> Address {
        Address::new(AddressKind::PubKey, Hash32([byte; 32]))
    }

    fn update(authorize: Vec<Address>, deauthorize: Vec<Address>) -> AuthorizedAddressOperation {
        AuthorizedAddressOperation::UpdateAddresses {
            authorize,
            deauthorize,
            nonce: Nonce([7; 8]),
            authority_fulfillment: signature(),
        }
    }

    fn check(operation: &AuthorizedAddressOperation) -> Result<(), PayloadError> {
        operation.validate_stateless(&Transaction::new(), &NetworkParams::devnet())
    }

    #[test]
    fn update_rules() {
        assert_eq!(check(&update(vec![address(1)], vec![address(2)])), Ok(()));
        assert_eq!(
            check(&update(vec![], vec![])),
            Err(PayloadError::NoAddresses)
        );
        assert_eq!(
            check(&update(vec![address(1)], vec![address(2), address(1)])),
            Err(PayloadError::DuplicateAddress {
                address: address(1),
                first: 0,
                second: 2
            })
        );
        assert_eq!(
            check(&update(vec![address(1), Address::NIL], vec![])),
            Err(PayloadError::NilAddress { index: 1 })
        );
    }

    #[test]
    fn change_authority_rules() {
        let change = |new_condition| AuthorizedAddressOperation::ChangeAuthority {
            new_condition,
            nonce: Nonce([7; 8]),
            authority_fulfillment: signature(),
        };
        assert_eq!(
            check(&change(Condition::PubKeyHash(Hash32([3; 32])))),
            Ok(())
        );
        assert!(matches!(
            check(&change(Condition::Nil)),
            Err(PayloadError::UnsupportedNewCondition { .. })
        ));
        let Payload::AuthorizedAddresses(stripped) = change(Condition::Nil).without_authorization()
        else {
            panic!("stays an authorized-address operation");
        };
        assert_eq!(stripped.authorization(), Some(&Fulfillment::Nil));
    }
}
