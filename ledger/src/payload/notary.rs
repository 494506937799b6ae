//! Notary records: register the hash of a document; the block's timestamp
//! proves it existed by then. Lookup by hash is a read model's job.

use super::{DomainPayload, Payload, PayloadError};
use crate::params::NetworkParams;
use crate::transaction::Transaction;
use crate::types::Hash32;

/// The hash of a notarised document (any 32-byte digest the application
/// chooses; the chain does not interpret it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct NotaryRecord {
    pub document_hash: Hash32,
}

impl DomainPayload for NotaryRecord {
    fn label(&self) -> &'static [u8] {
        b"notary"
    }

    fn validate_stateless(
        &self,
        _transaction: &Transaction,
        _params: &NetworkParams,
    ) -> Result<(), PayloadError> {
        if self.document_hash.is_zero() {
            return Err(PayloadError::ZeroDocumentHash);
        }
        Ok(())
    }

    fn without_authorization(&self) -> Payload {
        Payload::Notary(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_hash_is_refused() {
        let params = NetworkParams::devnet();
        let tx = Transaction::new();
        let record = NotaryRecord {
            document_hash: Hash32::ZERO,
        };
        assert_eq!(
            record.validate_stateless(&tx, &params),
            Err(PayloadError::ZeroDocumentHash)
        );
        let record = NotaryRecord {
            document_hash: Hash32([1; 32]),
        };
        assert_eq!(record.validate_stateless(&tx, &params), Ok(()));
        assert_eq!(record.authorization(), None);
    }
}
