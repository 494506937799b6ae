//! The consensus signature rule (`ledger::crypto::verify`): RFC 8032
//! vectors, crafted torsion components, small-order keys, non-canonical
//! scalars, and agreement of the single and batch checks.

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::Signer;
use ledger::crypto::{
    ChainId, KeyError, PublicKey, SecretKey, Signature, SignatureBatch, SignatureError,
    SigningMessage, SigningPurpose, SigningTranscript, VerifyError, verify_signature,
};
use proptest::prelude::*;
use sha2::{Digest, Sha512};

/// ℓ = 2²⁵² + 27742317777372353535851937790883648493, little endian.
const ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn message(tag: u64) -> SigningMessage {
    let mut transcript =
        SigningTranscript::new(SigningPurpose::NodeReport, &ChainId::for_network("rule"));
    transcript.append_u64(b"tag", tag);
    transcript.challenge()
}

fn scalar_from(label: &[u8], n: u64) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(label);
    hasher.update(n.to_le_bytes());
    Scalar::from_bytes_mod_order_wide(&hasher.finalize().into())
}

fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(r);
    hasher.update(a);
    hasher.update(message);
    Scalar::from_bytes_mod_order_wide(&hasher.finalize().into())
}

/// A signature made "by hand" with secret scalar `a` for the key bytes
/// `key`, nonce `r`, and `torsion` added to the committed R:
/// R' = [r]B + T, k = H(R' ‖ A ‖ M), s = r + k·a. If the key is [a]B + T_A
/// then [s]B − R' − [k]A = −T − [k]T_A: pure torsion.
fn crafted(
    a: &Scalar,
    key: &PublicKey,
    r: &Scalar,
    torsion: &EdwardsPoint,
    message: &[u8],
) -> Signature {
    let big_r = (EdwardsPoint::mul_base(r) + torsion).compress().to_bytes();
    let k = challenge(&big_r, &key.0, message);
    let s = r + k * a;
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(&big_r);
    bytes[32..].copy_from_slice(s.as_bytes());
    Signature(bytes)
}

/// A batch of `honest` ordinary signatures with `extra` (origin
/// "crafted") inserted at position `at`.
fn batch_with(
    honest: u64,
    at: u64,
    extra: (SigningMessage, PublicKey, Signature),
    salt: u64,
) -> SignatureBatch {
    let mut batch = SignatureBatch::new();
    for index in 0..=honest {
        if index == at {
            let (message, key, signature) = extra;
            batch
                .push("crafted", message, key, signature)
                .expect("usable key");
        }
        if index < honest {
            let key = SecretKey::from_seed([(index % 7) as u8 + 1; 32]);
            let signed = message(salt * 1000 + index);
            batch
                .push(
                    format!("honest {index}"),
                    signed,
                    key.public_key(),
                    key.sign(&signed),
                )
                .expect("usable key");
        }
    }
    batch
}

// (1) RFC 8032 §7.1 test vectors 1–3: signing with ed25519-dalek
// reproduces them and they verify under the consensus rule.
#[test]
fn rfc8032_vectors_verify() {
    let vectors = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];
    for (secret, public, message, signature) in vectors {
        let secret: [u8; 32] = hex::decode(secret).unwrap().try_into().unwrap();
        let public = PublicKey(hex::decode(public).unwrap().try_into().unwrap());
        let message = hex::decode(message).unwrap();
        let signature = Signature(hex::decode(signature).unwrap().try_into().unwrap());
        let signing = ed25519_dalek::SigningKey::from_bytes(&secret);
        assert_eq!(signing.verifying_key().to_bytes(), public.0);
        assert_eq!(signing.sign(&message).to_bytes(), signature.0);
        assert_eq!(verify_signature(&public, &message, &signature), Ok(()));
        let mut tampered = message.clone();
        tampered.push(0);
        assert!(verify_signature(&public, &tampered, &signature).is_err());
    }
}

// (2) A small-order component added to R. Under the cofactored rule the
// signature is VALID (its defect is pure torsion, which [8] kills), and
// single and batch checks accept it every time, whatever the
// coefficients. The old rule rejected it alone (verify_strict) while
// dalek's cofactorless batch accepted it about one batch in eight.
#[test]
fn torsion_in_r_is_accepted_by_single_and_batch_alike() {
    let a = scalar_from(b"key", 1);
    let key = PublicKey(EdwardsPoint::mul_base(&a).compress().to_bytes());
    let torsion = EIGHT_TORSION[1];
    // T has order exactly 8.
    let four_t = torsion + torsion + torsion + torsion;
    assert!(
        four_t != EdwardsPoint::default() && torsion.mul_by_cofactor() == EdwardsPoint::default()
    );
    let mut old_batch_accepts = 0;
    for run in 0..200u64 {
        let signed = message(run);
        let signature = crafted(
            &a,
            &key,
            &scalar_from(b"nonce", run),
            &torsion,
            signed.as_bytes(),
        );
        assert_eq!(
            verify_signature(&key, signed.as_bytes(), &signature),
            Ok(())
        );
        assert!(key.verify(&signed, &signature));
        let batch = batch_with(8, run % 9, (signed, key, signature), run);
        assert_eq!(batch.verify(), Ok(()), "run {run}");

        // The same inputs under the old rule.
        let dalek_key = ed25519_dalek::VerifyingKey::from_bytes(&key.0).unwrap();
        assert!(
            dalek_key
                .verify_strict(signed.as_bytes(), &signature.to_dalek())
                .is_err()
        );
        let mut messages = vec![*signed.as_bytes()];
        let mut keys = vec![dalek_key];
        let mut signatures = vec![signature.to_dalek()];
        for index in 0..8u64 {
            let honest = SecretKey::from_seed([index as u8 + 1; 32]);
            let other = message(run * 1000 + index);
            messages.push(*other.as_bytes());
            keys.push(honest.public_key().to_verifying_key().unwrap());
            signatures.push(honest.sign(&other).to_dalek());
        }
        let messages: Vec<&[u8]> = messages.iter().map(|m| &m[..]).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            old_batch_accepts += 1;
        }
    }
    // The old batch equation's answer depended on the coefficients.
    assert!(
        old_batch_accepts > 0 && old_batch_accepts < 200,
        "{old_batch_accepts}"
    );
}

// (2, continued) Torsion in R on top of a real defect: rejected by both,
// every time, and the batch names it.
#[test]
fn torsion_plus_wrong_scalar_is_rejected_by_single_and_batch_alike() {
    let a = scalar_from(b"key", 2);
    let key = PublicKey(EdwardsPoint::mul_base(&a).compress().to_bytes());
    for run in 0..200u64 {
        let signed = message(run);
        let torsion = EIGHT_TORSION[(run % 7 + 1) as usize];
        let mut signature = crafted(
            &a,
            &key,
            &scalar_from(b"nonce", run),
            &torsion,
            signed.as_bytes(),
        );
        let s = Scalar::from_canonical_bytes(signature.0[32..].try_into().unwrap()).unwrap();
        signature.0[32..].copy_from_slice((s + Scalar::ONE).as_bytes());
        assert!(matches!(
            verify_signature(&key, signed.as_bytes(), &signature),
            Err(VerifyError::Equation { .. })
        ));
        let batch = batch_with(8, run % 9, (signed, key, signature), run);
        assert_eq!(
            batch.verify(),
            Err(SignatureError::Invalid {
                origin: "crafted".into(),
                public_key: key
            }),
            "run {run}"
        );
    }
}

// A key with a torsion component (mixed order, not small order) is
// usable; honest-by-hand signatures under it verify single and batched.
#[test]
fn mixed_order_key_is_accepted_by_single_and_batch_alike() {
    let a = scalar_from(b"key", 3);
    let point = EdwardsPoint::mul_base(&a) + EIGHT_TORSION[2];
    let key = PublicKey(point.compress().to_bytes());
    assert_eq!(key.check_usable(), Ok(()));
    for run in 0..200u64 {
        let signed = message(run);
        let signature = crafted(
            &a,
            &key,
            &scalar_from(b"nonce", run),
            &EdwardsPoint::default(),
            signed.as_bytes(),
        );
        assert_eq!(
            verify_signature(&key, signed.as_bytes(), &signature),
            Ok(())
        );
        let batch = batch_with(4, run % 5, (signed, key, signature), run);
        assert_eq!(batch.verify(), Ok(()), "run {run}");
    }
}

// (3) Small-order public keys are refused by both checks, before any
// equation, although the cofactored equation alone would accept a
// signature anyone can forge for them: s arbitrary, R = [s]B.
#[test]
fn small_order_keys_are_refused() {
    for torsion in EIGHT_TORSION {
        let key = PublicKey(torsion.compress().to_bytes());
        let signed = message(7);
        let s = scalar_from(b"forged", 7);
        let mut forged = [0u8; 64];
        forged[..32].copy_from_slice(EdwardsPoint::mul_base(&s).compress().as_bytes());
        forged[32..].copy_from_slice(s.as_bytes());
        let forged = Signature(forged);
        // The forgery satisfies [8]([s]B − R − [k]A) = identity ...
        let k = challenge(
            &forged.0[..32].try_into().unwrap(),
            &key.0,
            signed.as_bytes(),
        );
        assert!((-(k * torsion)).mul_by_cofactor() == EdwardsPoint::default());
        // ... so the key itself must be refused.
        assert_eq!(
            verify_signature(&key, signed.as_bytes(), &forged),
            Err(VerifyError::Key(KeyError::WeakKey(key)))
        );
        assert!(!key.verify(&signed, &forged));
        assert_eq!(
            SignatureBatch::new().push("weak", signed, key, forged),
            Err(SignatureError::UnusableKey {
                origin: "weak".into(),
                source: KeyError::WeakKey(key)
            })
        );
    }
}

// (4) s ≥ ℓ is refused by both, even though s − ℓ would verify.
#[test]
fn non_canonical_s_is_refused_by_single_and_batch() {
    let secret = SecretKey::from_seed([9; 32]);
    let key = secret.public_key();
    let signed = message(9);
    let good = secret.sign(&signed);
    let s = Scalar::from_canonical_bytes(good.0[32..].try_into().unwrap()).unwrap();
    // s + ℓ as a 256-bit integer (no overflow: s, ℓ < 2^253).
    let mut plus_order = [0u8; 32];
    let mut carry = 0u16;
    for (index, byte) in plus_order.iter_mut().enumerate() {
        let sum = u16::from(s.as_bytes()[index]) + u16::from(ORDER[index]) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    assert_eq!(Scalar::from_bytes_mod_order(ORDER), Scalar::ZERO);
    let mut high_bit = *s.as_bytes();
    high_bit[31] |= 0x80;
    for s_bytes in [plus_order, high_bit, ORDER, [0xff; 32]] {
        let mut bad = good;
        bad.0[32..].copy_from_slice(&s_bytes);
        assert_eq!(
            verify_signature(&key, signed.as_bytes(), &bad),
            Err(VerifyError::NonCanonicalS {
                public_key: key,
                signature: bad
            })
        );
        let batch = batch_with(6, 3, (signed, key, bad), 9);
        assert_eq!(
            batch.verify(),
            Err(SignatureError::Invalid {
                origin: "crafted".into(),
                public_key: key
            })
        );
    }
    assert_eq!(verify_signature(&key, signed.as_bytes(), &good), Ok(()));
}

// R that does not decompress: refused by both and named.
#[test]
fn undecodable_r_is_refused_by_single_and_batch() {
    let secret = SecretKey::from_seed([10; 32]);
    let key = secret.public_key();
    let signed = message(10);
    let mut bad = secret.sign(&signed);
    bad.0[..32].copy_from_slice(&{
        let mut y = [0u8; 32];
        y[0] = 2; // y = 2 is not on the curve
        y
    });
    assert!(matches!(
        verify_signature(&key, signed.as_bytes(), &bad),
        Err(VerifyError::InvalidR { .. })
    ));
    assert_eq!(
        batch_with(5, 0, (signed, key, bad), 10).verify(),
        Err(SignatureError::Invalid {
            origin: "crafted".into(),
            public_key: key
        })
    );
}

/// Runs one signature through the single check and, after three honest
/// signatures, through a batch; returns both answers.
fn both(key: PublicKey, signed: SigningMessage, signature: Signature, salt: u64) -> (bool, bool) {
    let single = verify_signature(&key, signed.as_bytes(), &signature).is_ok();
    let mut batch = SignatureBatch::new();
    for index in 0..3u64 {
        let honest = SecretKey::from_seed([index as u8 + 1; 32]);
        let other = message(salt.wrapping_add(index + 1));
        batch
            .push(
                format!("honest {index}"),
                other,
                honest.public_key(),
                honest.sign(&other),
            )
            .expect("usable key");
    }
    let batched = match batch.push("probe", signed, key, signature) {
        Ok(()) => batch.verify().is_ok(),
        Err(_) => false,
    };
    (single, batched)
}

proptest! {
    // (5) Random honest signatures pass both checks; any single-bit flip
    // of the key or signature fails both.
    #[test]
    fn random_signatures_pass_and_bit_flips_fail_both(
        seed in any::<[u8; 32]>(),
        tag in any::<u64>(),
        bit in 0usize..(96 * 8),
    ) {
        let secret = SecretKey::from_seed(seed);
        let key = secret.public_key();
        let signed = message(tag);
        let signature = secret.sign(&signed);
        prop_assert_eq!(both(key, signed, signature, tag), (true, true));

        let mut bytes = [0u8; 96];
        bytes[..32].copy_from_slice(&key.0);
        bytes[32..].copy_from_slice(&signature.0);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let flipped_key = PublicKey(bytes[..32].try_into().unwrap());
        let flipped_signature = Signature(bytes[32..].try_into().unwrap());
        prop_assert_eq!(both(flipped_key, signed, flipped_signature, tag), (false, false));
    }

    // A batch of random honest signatures verifies; corrupting one makes
    // the batch name exactly that one.
    #[test]
    fn random_batches_agree_with_single_checks(
        seeds in proptest::collection::vec(any::<[u8; 32]>(), 1..12),
        corrupt in any::<prop::sample::Index>(),
    ) {
        let culprit = corrupt.index(seeds.len());
        let mut batch = SignatureBatch::new();
        for (index, seed) in seeds.iter().enumerate() {
            let secret = SecretKey::from_seed(*seed);
            let signed = message(index as u64);
            let signature = if index == culprit {
                secret.sign(&message(index as u64 + 1_000_000))
            } else {
                secret.sign(&signed)
            };
            prop_assert_eq!(
                verify_signature(&secret.public_key(), signed.as_bytes(), &signature).is_ok(),
                index != culprit
            );
            batch.push(format!("item {index}"), signed, secret.public_key(), signature).unwrap();
        }
        prop_assert_eq!(
            batch.verify(),
            Err(SignatureError::Invalid {
                origin: format!("item {culprit}"),
                public_key: SecretKey::from_seed(seeds[culprit]).public_key(),
            })
        );
    }
}
