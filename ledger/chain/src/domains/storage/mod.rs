//! Zero storage: storage nodes in failure domains, erasure-coded objects,
//! and [`placement`], the pure function from an object and the registered
//! nodes to the node of every shard. [`state`] is the consensus state and
//! its rules (`docs/storage.md`).

pub mod placement;
pub mod state;

pub use state::{
    DOMAIN, NodeRecord, ObjectRecord, StorageChange, StorageEvent, StorageRuleError, StorageState,
};
