//! The chain's vocabulary and rules. See `docs/protocol.md`.
