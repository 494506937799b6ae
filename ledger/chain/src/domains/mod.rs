//! Domain modules: consensus state and pure algorithms of the platform's
//! domains (identity, storage, compute, chat), one folder each.

pub mod compute;
pub mod storage;
