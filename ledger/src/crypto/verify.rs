//! The consensus rule for ed25519 signatures: cofactored verification,
//! canonical keys of large order, ZIP 215 decoding of R, canonical s;
//! implemented directly on `curve25519-dalek`. Specified byte for byte in
//! `docs/protocol.md` §6.
//!
//! Signing is plain RFC 8032 (ed25519-dalek); every RFC 8032 signature by
//! an honest signer verifies under this rule. What this module pins down is
//! the behaviour on *crafted* inputs, so that every node, the single check
//! and the batch check all give the same answer.
//!
//! Given a public key `A_bytes`, a message `M` and a signature
//! `R_bytes ‖ s_bytes`:
//!
//! 1. **A**: `A_bytes` must be the *canonical* encoding of a curve point:
//!    the low 255 bits, `y`, must be `< p = 2²⁵⁵ − 19` and must
//!    decompress (as in RFC 8032 §5.1.3), else [`KeyError::InvalidPoint`].
//!    The point must not be of small order (`[8]A ≠ identity`), else
//!    [`KeyError::WeakKey`]: anyone can sign for a small-order key. A
//!    torsion component in a key of large order is allowed (the cofactored
//!    equation ignores it). Requiring `y < p` (stricter than ZIP 215, which
//!    reduces `y` mod p) makes a key's bytes a function of its point —
//!    some non-canonical `y` decompress to points of large order, which
//!    would otherwise give one key several addresses and let a multisig
//!    list one signer twice under different bytes. (The remaining
//!    non-canonical form, a sign bit of 1 with `x = 0`, only occurs for
//!    `y = ±1`, which are small-order and refused anyway.)
//! 2. **R**: `R_bytes` must decompress (same ZIP 215 decoding; small-order
//!    and non-canonical R are accepted), else [`VerifyError::InvalidR`].
//! 3. **s**: `s_bytes` read as a little-endian integer must be `< ℓ`,
//!    else [`VerifyError::NonCanonicalS`].
//! 4. `k = SHA-512(R_bytes ‖ A_bytes ‖ M) mod ℓ`, hashing the bytes as
//!    given (not re-encoded).
//! 5. Accept iff `[8]([s]B − R − [k]A)` is the identity (cofactored
//!    equation), else [`VerifyError::Equation`].
//!
//! **Batch.** For n signatures with 128-bit coefficients `z_i` drawn
//! unpredictably (see `coefficients` below), accept iff
//! `[8](−(Σ z_i s_i) B + Σ z_i R_i + Σ_A (Σ_{i: A_i = A} z_i k_i) A)` is
//! the identity, terms grouped by equal key bytes.
//!
//! **Why batch and single agree.** Write `e_i = [s_i]B − R_i − [k_i]A_i`.
//! The batch point is `−[8] Σ z_i e_i` (scalars taken mod ℓ only change
//! torsion components, which `[8]` kills). If every single check passes,
//! every `[8]e_i` is the identity and so is the batch point, for *every*
//! choice of `z` — a batch of valid signatures never fails. If some
//! `[8]e_j ≠ 0`, it lies in the prime-order subgroup and, for fixed other
//! coefficients, at most one value of `z_j mod ℓ` cancels it: the batch
//! wrongly accepts with probability at most 2⁻¹²⁸. The cofactorless
//! equation of ed25519-dalek's `verify_batch` lacks the `[8]`, so a
//! torsion component in some `e_i` survives or vanishes depending on
//! `z_i mod 8` and the mod-ℓ reductions — that is the disagreement this
//! module removes.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha512};
use thiserror::Error;

use super::keys::{KeyError, PublicKey, Signature};

/// Why a signature does not verify under the consensus rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("signature {signature:?} by {public_key}: R is not a curve point")]
    InvalidR {
        public_key: PublicKey,
        signature: Signature,
    },
    #[error("signature {signature:?} by {public_key}: s is not below the group order")]
    NonCanonicalS {
        public_key: PublicKey,
        signature: Signature,
    },
    #[error("signature {signature:?} by {public_key} fails the verification equation")]
    Equation {
        public_key: PublicKey,
        signature: Signature,
    },
}

/// Decodes a public key: canonical `y`, decompresses, not of small order
/// (rule 1 of the module documentation).
pub fn decode_public_key(public_key: &PublicKey) -> Result<EdwardsPoint, KeyError> {
    if !has_canonical_y(&public_key.0) {
        return Err(KeyError::InvalidPoint(*public_key));
    }
    let point = CompressedEdwardsY(public_key.0)
        .decompress()
        .ok_or(KeyError::InvalidPoint(*public_key))?;
    if point.is_small_order() {
        return Err(KeyError::WeakKey(*public_key));
    }
    Ok(point)
}

/// Whether the low 255 bits of a point encoding, read little endian, are
/// below p = 2²⁵⁵ − 19. The only encodings of `y ≥ p` are
/// `ed..ff ff..ff 7f` through `ff ff..ff 7f` (with either sign bit).
fn has_canonical_y(bytes: &[u8; 32]) -> bool {
    let high_all_ones = bytes[1..31].iter().all(|byte| *byte == 0xff) && bytes[31] & 0x7f == 0x7f;
    !(high_all_ones && bytes[0] >= 0xed)
}

/// A signature decoded and hashed, ready for the single or batch equation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prepared {
    pub(crate) r: EdwardsPoint,
    pub(crate) s: Scalar,
    pub(crate) k: Scalar,
}

/// Rules 2–4: decodes R and s and computes the challenge scalar k.
pub(crate) fn prepare(
    public_key: &PublicKey,
    message: &[u8],
    signature: &Signature,
) -> Result<Prepared, VerifyError> {
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature.0[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&signature.0[32..]);
    let r = CompressedEdwardsY(r_bytes)
        .decompress()
        .ok_or(VerifyError::InvalidR {
            public_key: *public_key,
            signature: *signature,
        })?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or(
        VerifyError::NonCanonicalS {
            public_key: *public_key,
            signature: *signature,
        },
    )?;
    let mut hasher = Sha512::new();
    hasher.update(r_bytes);
    hasher.update(public_key.0);
    hasher.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&hasher.finalize().into());
    Ok(Prepared { r, s, k })
}

/// Rule 5 for one signature whose key `a` was decoded by
/// [`decode_public_key`]: `[8]([s]B − R − [k]A) == identity`.
pub(crate) fn equation_holds(a: &EdwardsPoint, prepared: &Prepared) -> bool {
    // [k](−A) + [s]B, with the precomputed basepoint table.
    let sb_minus_ka =
        EdwardsPoint::vartime_double_scalar_mul_basepoint(&prepared.k, &-a, &prepared.s);
    (sb_minus_ka - prepared.r).mul_by_cofactor().is_identity()
}

/// Verifies one signature over `message` under the consensus rule.
pub fn verify_signature(
    public_key: &PublicKey,
    message: &[u8],
    signature: &Signature,
) -> Result<(), VerifyError> {
    let a = decode_public_key(public_key)?;
    let prepared = prepare(public_key, message, signature)?;
    if equation_holds(&a, &prepared) {
        Ok(())
    } else {
        Err(VerifyError::Equation {
            public_key: *public_key,
            signature: *signature,
        })
    }
}

/// The batch equation over signatures that all decoded. `items` are
/// (index of the key in `keys`, prepared signature); `keys` are distinct
/// decoded keys. Returns whether `[8](−(Σ z_i s_i) B + Σ z_i R_i +
/// Σ_A (Σ z_i k_i) A)` is the identity.
pub(crate) fn batch_equation_holds(keys: &[EdwardsPoint], items: &[(usize, Prepared)]) -> bool {
    let z = coefficients(items);
    let mut b_coefficient = Scalar::ZERO;
    let mut key_coefficients = vec![Scalar::ZERO; keys.len()];
    let mut r_coefficients = Vec::with_capacity(items.len());
    for ((key, prepared), z) in items.iter().zip(z) {
        b_coefficient -= z * prepared.s;
        key_coefficients[*key] += z * prepared.k;
        r_coefficients.push(z);
    }
    let check = EdwardsPoint::vartime_multiscalar_mul(
        std::iter::once(b_coefficient)
            .chain(key_coefficients)
            .chain(r_coefficients),
        std::iter::once(ED25519_BASEPOINT_POINT)
            .chain(keys.iter().copied())
            .chain(items.iter().map(|(_, prepared)| prepared.r)),
    );
    check.mul_by_cofactor().is_identity()
}

/// Domain tag of the coefficient derivation.
const COEFFICIENT_TAG: &[u8] = b"blockstake/batch-verify-coefficients/v1";

/// The batch coefficients `z_i`, each uniform in `[0, 2¹²⁸)`.
///
/// Hedged derivation: a seed `SHA-512(tag ‖ entropy ‖ k_0 ‖ s_0 ‖ k_1 ‖
/// s_1 ‖ …)` from 32 bytes of operating-system randomness and every
/// signature's challenge and `s` (k already commits to R, A and the
/// message), then `z_{4j..4j+3}` are the four 16-byte quarters of
/// `SHA-512(tag ‖ seed ‖ u64le(j))`. With working OS randomness the
/// coefficients are unpredictable; should it ever fail, they are still a
/// hash of the whole batch, which an attacker would have to grind ~2¹²⁸
/// times. Only the probability of a wrong accept depends on them, never the
/// result for valid or invalid signatures otherwise.
fn coefficients(items: &[(usize, Prepared)]) -> Vec<Scalar> {
    let mut entropy = [0u8; 32];
    if OsRng.try_fill_bytes(&mut entropy).is_err() {
        entropy = [0u8; 32];
    }
    let mut hasher = Sha512::new();
    hasher.update(COEFFICIENT_TAG);
    hasher.update(entropy);
    for (_, prepared) in items {
        hasher.update(prepared.k.as_bytes());
        hasher.update(prepared.s.as_bytes());
    }
    let seed = hasher.finalize();
    let mut z = Vec::with_capacity(items.len());
    let mut block = 0u64;
    while z.len() < items.len() {
        let mut hasher = Sha512::new();
        hasher.update(COEFFICIENT_TAG);
        hasher.update(seed);
        hasher.update(block.to_le_bytes());
        let output = hasher.finalize();
        for quarter in output.chunks_exact(16) {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(quarter);
            z.push(Scalar::from(u128::from_le_bytes(bytes)));
        }
        block += 1;
    }
    z.truncate(items.len());
    z
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;
    use curve25519_dalek::constants::EIGHT_TORSION;

    #[test]
    fn honest_signature_verifies_and_wrong_message_does_not() {
        let key = SecretKey::from_seed([3; 32]);
        let message = [7u8; 64];
        let signature = Signature(
            ed25519_dalek::Signer::sign(&ed25519_dalek::SigningKey::from_bytes(&[3; 32]), &message)
                .to_bytes(),
        );
        assert_eq!(
            verify_signature(&key.public_key(), &message, &signature),
            Ok(())
        );
        assert_eq!(
            verify_signature(&key.public_key(), &[8u8; 64], &signature),
            Err(VerifyError::Equation {
                public_key: key.public_key(),
                signature
            })
        );
    }

    /// Every encoding with `y ≥ p`: the 19 values `p + 0 ..= p + 18`, either
    /// sign bit.
    fn non_canonical_y_encodings() -> Vec<[u8; 32]> {
        let mut encodings = Vec::new();
        for low in 0..19u8 {
            let mut bytes = [0xff; 32];
            bytes[0] = 0xed + low;
            bytes[31] = 0x7f;
            encodings.push(bytes);
            bytes[31] = 0xff;
            encodings.push(bytes);
        }
        encodings
    }

    #[test]
    fn non_canonical_keys_are_refused_even_of_large_order() {
        let mut large_order = 0;
        for bytes in non_canonical_y_encodings() {
            assert!(!has_canonical_y(&bytes));
            if let Some(point) = CompressedEdwardsY(bytes).decompress() {
                assert_ne!(point.compress().to_bytes(), bytes);
                if !point.is_small_order() {
                    large_order += 1;
                }
            }
            assert_eq!(
                decode_public_key(&PublicKey(bytes)),
                Err(KeyError::InvalidPoint(PublicKey(bytes)))
            );
        }
        // y = p + 3 (and others) decompress to points of large order: ZIP
        // 215 would accept them as keys, we do not.
        assert!(large_order > 0);
        // The largest canonical y, p - 1, is accepted by the byte check.
        let mut below = [0xff; 32];
        below[0] = 0xec;
        below[31] = 0x7f;
        assert!(has_canonical_y(&below));
    }

    #[test]
    fn non_canonical_r_is_accepted_if_it_decompresses() {
        // R's bytes are only hashed; ZIP 215 decoding. The equation fails
        // here, but decoding (rule 2) passes for every decompressible R.
        let key = SecretKey::from_seed([4; 32]).public_key();
        for r_bytes in non_canonical_y_encodings() {
            let mut signature = Signature([0; 64]);
            signature.0[..32].copy_from_slice(&r_bytes);
            let decodes = CompressedEdwardsY(r_bytes).decompress().is_some();
            assert_eq!(prepare(&key, b"m", &signature).is_ok(), decodes);
        }
    }

    #[test]
    fn torsion_points_are_weak_keys() {
        for point in EIGHT_TORSION {
            let key = PublicKey(point.compress().to_bytes());
            assert_eq!(decode_public_key(&key), Err(KeyError::WeakKey(key)));
        }
    }
}
