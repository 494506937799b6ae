//! The pipeline round-trips any size, survives the loss or corruption of
//! up to `m` shards per chunk, refuses wrong keys and tampered content,
//! and rebuilds shards byte for byte without the key.

use ledger::PublicKey;
use proptest::prelude::*;

use super::*;
use crate::keys::{StorageKey, object_id};

const SALT: Salt = [4; 16];

fn params(k: u8, m: u8, chunk_bytes: u32, compression: Compression) -> CodecParams {
    CodecParams {
        data_shards: k,
        parity_shards: m,
        chunk_bytes,
        compression,
    }
}

fn key() -> ObjectKey {
    StorageKey([8; 32]).object_key(&SALT)
}

fn object() -> ObjectId {
    object_id(&PublicKey([1; 32]), &SALT)
}

/// Pseudo-random but partly compressible bytes.
fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if i % 64 < 32 {
                (i % 7) as u8
            } else {
                state as u8
            }
        })
        .collect()
}

fn encode(params: CodecParams, plain: &[u8]) -> (EncodeSummary, Vec<Vec<u8>>) {
    let encoder = Encoder::new(params, object(), SALT, &key()).unwrap();
    let mut shards = vec![Vec::new(); params.total_shards()];
    let summary = encode_stream(encoder, &key(), plain, &mut shards, |_| {}).unwrap();
    (summary, shards)
}

fn expectation(params: CodecParams, summary: &EncodeSummary) -> ObjectExpectation {
    ObjectExpectation {
        object: object(),
        params,
        salt: SALT,
        size: summary.size,
        content_hash: Some(summary.content_hash),
    }
}

fn decode(
    expectation: &ObjectExpectation,
    shards: Vec<Option<&[u8]>>,
) -> Result<(Vec<u8>, DecodeSummary), CodecError> {
    let mut out = Vec::new();
    let summary = decode_stream(expectation, &key(), shards, &mut out, |_| {})?;
    Ok((out, summary))
}

fn all(shards: &[Vec<u8>]) -> Vec<Option<&[u8]>> {
    shards.iter().map(|shard| Some(shard.as_slice())).collect()
}

#[test]
fn round_trips_every_size_around_the_chunk_boundaries() {
    for compression in [Compression::None, Compression::Zstd] {
        for (k, m) in [(4, 2), (1, 0), (3, 0), (10, 4)] {
            let params = params(k, m, 4096, compression);
            for len in [0, 1, 4095, 4096, 4097, 3 * 4096 + 1000] {
                let plain = data(len, len as u8);
                let (summary, shards) = encode(params, &plain);
                assert_eq!(summary.size, len as u64);
                assert_eq!(summary.chunks, params.chunks(len as u64));
                for (index, shard) in shards.iter().enumerate() {
                    assert_eq!(summary.shard_bytes[index], shard.len() as u64);
                    // All shards of an object have one length.
                    assert_eq!(shard.len(), shards[0].len());
                    let header = ShardHeader::from_bytes(shard).unwrap();
                    assert_eq!(
                        (
                            header.object,
                            header.shard_index,
                            header.params,
                            header.salt
                        ),
                        (object(), index as u8, params, SALT)
                    );
                    let mut hasher = ShardHasher::new();
                    hasher.update(shard);
                    assert_eq!(summary.shard_checksums[index], hasher.finish());
                    if compression == Compression::None {
                        assert_eq!(shard.len() as u64, params.max_shard_bytes(len as u64));
                    }
                }
                let (out, decoded) = decode(&expectation(params, &summary), all(&shards)).unwrap();
                assert_eq!(out, plain, "{k}+{m} {compression:?} {len} bytes");
                assert!(decoded.faults.is_empty());
            }
        }
    }
}

#[test]
fn headers_that_are_not_shard_files_do_not_parse() {
    assert_eq!(ShardHeader::from_bytes(&[0; 10]), None);
    assert_eq!(ShardHeader::from_bytes(&[0; HEADER_BYTES]), None);
    let (_, shards) = encode(params(2, 1, 4096, Compression::None), &data(10, 1));
    let mut bad = shards[0].clone();
    bad[43] = 9;
    assert_eq!(ShardHeader::from_bytes(&bad), None);
}

#[test]
fn compression_shrinks_compressible_chunks_and_leaves_random_ones() {
    let zeros = vec![0u8; 64 * 1024];
    let (packed, _) = encode(params(4, 2, 16 * 1024, Compression::Zstd), &zeros);
    let (plain, _) = encode(params(4, 2, 16 * 1024, Compression::None), &zeros);
    assert!(packed.shard_bytes[0] * 10 < plain.shard_bytes[0]);
}

#[test]
fn any_m_lost_shards_are_tolerated_and_one_more_is_not() {
    let params = params(4, 2, 4096, Compression::Zstd);
    let plain = data(20_000, 3);
    let (summary, shards) = encode(params, &plain);
    let expectation = expectation(params, &summary);
    for a in 0..6 {
        for b in a + 1..6 {
            let mut available = all(&shards);
            available[a] = None;
            available[b] = None;
            let (out, _) = decode(&expectation, available).unwrap();
            assert_eq!(out, plain, "without shards {a} and {b}");
        }
    }
    let mut available = all(&shards);
    available[0] = None;
    available[2] = None;
    available[5] = None;
    assert!(matches!(
        decode(&expectation, available),
        Err(CodecError::TooFewShards {
            chunk: 0,
            usable: 3,
            needed: 4,
            ..
        })
    ));
}

#[test]
fn a_corrupt_piece_is_detected_and_read_around() {
    let params = params(4, 2, 4096, Compression::None);
    let plain = data(3 * 4096, 5);
    let (summary, mut shards) = encode(params, &plain);
    let expectation = expectation(params, &summary);
    // Flip a byte inside chunk 1's piece of shard 2.
    let frame = FRAME_OVERHEAD_BYTES + (4096 + 16usize).div_ceil(4);
    let at = HEADER_BYTES + frame + FRAME_OVERHEAD_BYTES + 10;
    shards[2][at] ^= 0xff;
    let (out, decoded) = decode(&expectation, all(&shards)).unwrap();
    assert_eq!(out, plain);
    assert_eq!(
        decoded.faults,
        vec![ShardFault::Checksum { shard: 2, chunk: 1 }]
    );
    assert_eq!(
        verify_shard(&expectation, 2, shards[2].as_slice(), None),
        Err(ShardFault::Checksum { shard: 2, chunk: 1 })
    );
    for index in [0, 1, 3, 4, 5] {
        verify_shard(
            &expectation,
            index,
            shards[index].as_slice(),
            Some(summary.shard_checksums[index]),
        )
        .unwrap();
    }
    // A truncated shard, a shard of another index and a header from
    // another object are all set aside.
    let truncated = &shards[0][..shards[0].len() - 1];
    assert!(matches!(
        verify_shard(&expectation, 0, truncated, None),
        Err(ShardFault::Read { shard: 0, .. })
    ));
    assert!(matches!(
        verify_shard(&expectation, 1, shards[0].as_slice(), None),
        Err(ShardFault::Header {
            field: "shard index",
            ..
        })
    ));
}

#[test]
fn a_wrong_key_or_a_wrong_content_hash_is_refused() {
    let params = params(2, 1, 4096, Compression::Zstd);
    let plain = data(10_000, 9);
    let (summary, shards) = encode(params, &plain);
    let expectation = expectation(params, &summary);
    let wrong = StorageKey([9; 32]).object_key(&SALT);
    let mut out = Vec::new();
    assert!(matches!(
        decode_stream(&expectation, &wrong, all(&shards), &mut out, |_| {}),
        Err(CodecError::Decrypt { chunk: 0 })
    ));
    let mut other = expectation;
    other.content_hash = Some(Hash32([1; 32]));
    assert!(matches!(
        decode(&other, all(&shards)),
        Err(CodecError::ContentMismatch { .. })
    ));
}

#[test]
fn lost_shards_are_rebuilt_byte_for_byte_without_the_key() {
    let params = params(4, 2, 4096, Compression::Zstd);
    let plain = data(4 * 4096 + 17, 11);
    let (summary, shards) = encode(params, &plain);
    let expectation = expectation(params, &summary);
    let mut available = all(&shards);
    available[1] = None;
    available[4] = None;
    let mut targets = vec![(1usize, Vec::new()), (4usize, Vec::new())];
    let faults = rebuild_shards(&expectation, available, &mut targets).unwrap();
    assert!(faults.is_empty());
    assert_eq!(targets[0].1, shards[1]);
    assert_eq!(targets[1].1, shards[4]);
}

#[test]
fn bad_parameters_are_refused() {
    assert!(matches!(
        Encoder::new(
            params(0, 2, 4096, Compression::None),
            object(),
            SALT,
            &key()
        ),
        Err(CodecError::Shards { .. })
    ));
    assert!(matches!(
        Encoder::new(
            params(60, 5, 4096, Compression::None),
            object(),
            SALT,
            &key()
        ),
        Err(CodecError::Shards { .. })
    ));
    assert!(matches!(
        Encoder::new(params(4, 2, 10, Compression::None), object(), SALT, &key()),
        Err(CodecError::ChunkSize(10))
    ));
    let encoder = Encoder::new(
        params(4, 2, 4096, Compression::None),
        object(),
        SALT,
        &key(),
    )
    .unwrap();
    let mut too_few = vec![Vec::new(); 5];
    assert!(matches!(
        encode_stream(encoder, &key(), &b"x"[..], &mut too_few, |_| {}),
        Err(CodecError::WriterCount {
            count: 5,
            expected: 6
        })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn any_object_round_trips_with_any_k_shards(
        len in 0usize..20_000,
        seed in any::<u8>(),
        k in 1u8..6,
        m in 0u8..4,
        zstd in any::<bool>(),
        lost in proptest::collection::vec(0usize..10, 0..4),
    ) {
        let params = params(k, m, 2048, if zstd { Compression::Zstd } else { Compression::None });
        let plain = data(len, seed);
        let (summary, shards) = encode(params, &plain);
        let mut available = all(&shards);
        let mut dropped = 0;
        for index in lost {
            let index = index % available.len();
            if available[index].is_some() && dropped < usize::from(m) {
                available[index] = None;
                dropped += 1;
            }
        }
        let (out, _) = decode(&expectation(params, &summary), available).unwrap();
        prop_assert_eq!(out, plain);
    }
}
