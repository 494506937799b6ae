//! The server secret and what it signs: challenge tags and bearer tokens.
//!
//! Both are keyed BLAKE2b-256 MACs under the same 32-byte secret, told
//! apart by the BLAKE2b personalization (`bs-login-chal` / `bs-login-tok`),
//! so a challenge tag is never a valid token tag. A token is
//! `bst1.<base64url(claims)>.<base64url(mac)>` where the claims are the
//! canonical encoding of [`TokenClaims`]. Stateless: every API replica
//! configured with the same secret accepts every other's tokens, and none
//! keeps a session table. Tokens cannot be withdrawn one by one; they are
//! short-lived and every use re-checks the key on chain (see `viewer`).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blake2::Blake2bMac;
use blake2::digest::Mac;
use blake2::digest::consts::U32;
use ledger::PublicKey;
use rand_core::{OsRng, RngCore};

const TOKEN_PREFIX: &str = "bst1.";
const CHALLENGE_PERSONAL: &[u8] = b"bs-login-chal";
const TOKEN_PERSONAL: &[u8] = b"bs-login-tok";
/// Longest token text accepted (claims are ~150 bytes).
const MAX_TOKEN_TEXT: usize = 1024;

/// What a token says, MAC'd by the server.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct TokenClaims {
    /// The chain the token was issued on (a devnet token is refused by a
    /// testnet API sharing the secret).
    pub chain_id: [u8; 32],
    /// The identity's ID (32 bytes) at login.
    pub identity_id: [u8; 32],
    /// The key that logged in.
    pub public_key: PublicKey,
    pub issued_at: u64,
    pub expires_at: u64,
}

/// Why a token text is refused before any lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not `bst1.<claims>.<tag>`")]
    Malformed,
    #[error("the token was not issued by this API (or it was altered)")]
    Forged,
}

/// The server secret (32 bytes). Cloning shares it; it never prints.
#[derive(Clone)]
pub struct LoginSecret(Arc<[u8; 32]>);

impl LoginSecret {
    pub fn new(bytes: [u8; 32]) -> LoginSecret {
        LoginSecret(Arc::new(bytes))
    }

    /// A fresh secret from the OS.
    pub fn random() -> LoginSecret {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        LoginSecret::new(bytes)
    }

    /// Reads a secret from text: 64 hex digits (surrounding whitespace
    /// ignored), as `openssl rand -hex 32` prints.
    pub fn from_hex(text: &str) -> Result<LoginSecret, String> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes)
            .map_err(|_| "the login secret must be 64 hexadecimal digits (32 bytes)".to_owned())?;
        Ok(LoginSecret::new(bytes))
    }

    fn mac(&self, personal: &[u8]) -> Blake2bMac<U32> {
        // A 32-byte key and a personalization of at most 16 bytes are
        // within BLAKE2b's limits (64 and 16), so this cannot fail.
        Blake2bMac::<U32>::new_with_salt_and_personal(&self.0[..], &[], personal)
            .expect("a 32-byte key and a short personalization fit BLAKE2b")
    }

    fn tag(&self, personal: &[u8], bytes: &[u8]) -> Vec<u8> {
        let mut mac = self.mac(personal);
        mac.update(bytes);
        mac.finalize().into_bytes().to_vec()
    }

    fn check(&self, personal: &[u8], bytes: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.mac(personal);
        mac.update(bytes);
        mac.verify_slice(tag).is_ok()
    }

    /// The tag of a challenge's canonical bytes.
    pub fn challenge_tag(&self, fields: &[u8]) -> Vec<u8> {
        self.tag(CHALLENGE_PERSONAL, fields)
    }

    /// Whether `tag` is this secret's tag of `fields` (constant time).
    pub fn check_challenge_tag(&self, fields: &[u8], tag: &[u8]) -> bool {
        self.check(CHALLENGE_PERSONAL, fields, tag)
    }

    /// A token carrying `claims`.
    pub fn token(&self, claims: &TokenClaims) -> String {
        let bytes = ledger::codec::encode(claims);
        let tag = self.tag(TOKEN_PERSONAL, &bytes);
        format!(
            "{TOKEN_PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(&bytes),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The claims of a token this secret signed (expiry is the caller's).
    pub fn verify_token(&self, text: &str) -> Result<TokenClaims, TokenError> {
        let text = text.trim();
        if text.len() > MAX_TOKEN_TEXT {
            return Err(TokenError::Malformed);
        }
        let rest = text
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Malformed)?;
        let (claims, tag) = rest.split_once('.').ok_or(TokenError::Malformed)?;
        let claims = URL_SAFE_NO_PAD
            .decode(claims)
            .map_err(|_| TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        if !self.check(TOKEN_PERSONAL, &claims, &tag) {
            return Err(TokenError::Forged);
        }
        ledger::codec::decode_with_limit(&claims, MAX_TOKEN_TEXT).map_err(|_| TokenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims {
            chain_id: [1; 32],
            identity_id: [2; 32],
            public_key: PublicKey([3; 32]),
            issued_at: 10,
            expires_at: 910,
        }
    }

    #[test]
    fn tokens_verify_only_under_their_secret_and_unaltered() {
        let secret = LoginSecret::new([7; 32]);
        let token = secret.token(&claims());
        assert_eq!(secret.verify_token(&token), Ok(claims()));
        assert_eq!(
            LoginSecret::new([8; 32]).verify_token(&token),
            Err(TokenError::Forged)
        );
        // Any altered character of the claims or tag is refused.
        let bytes = token.as_bytes();
        for index in TOKEN_PREFIX.len()..bytes.len() {
            let mut altered = bytes.to_vec();
            altered[index] = if altered[index] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).unwrap_or_default();
            if altered != token {
                assert!(secret.verify_token(&altered).is_err(), "{altered}");
            }
        }
        for bad in ["", "bst1.", "bst1.a.b", "Bearer x", &"a".repeat(2_000)] {
            assert!(secret.verify_token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_challenge_tag_is_not_a_token_tag() {
        let secret = LoginSecret::new([7; 32]);
        let bytes = ledger::codec::encode(&claims());
        let forged = format!(
            "{TOKEN_PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(&bytes),
            URL_SAFE_NO_PAD.encode(secret.challenge_tag(&bytes))
        );
        assert_eq!(secret.verify_token(&forged), Err(TokenError::Forged));
        assert!(secret.check_challenge_tag(&bytes, &secret.challenge_tag(&bytes)));
        assert!(LoginSecret::from_hex(&"ab".repeat(32)).is_ok());
        assert!(LoginSecret::from_hex("abc").is_err());
    }
}
