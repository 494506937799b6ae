//! Zero storage: storage nodes in failure domains, erasure-coded objects,
//! and [`placement`], the pure function from an object and the registered
//! nodes to the node of every shard.

pub mod placement;
