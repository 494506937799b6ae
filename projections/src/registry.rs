//! Every read model the projector knows, by name.

use std::sync::Arc;

use chain::ChainConfig;

use crate::chat::Chat;
use crate::compute::Compute;
use crate::explorer::Explorer;
use crate::identity::Identity;
use crate::model::ReadModel;
use crate::storage::Storage;

/// Names of all read models, in the order the projector starts them.
pub const MODEL_NAMES: [&str; 5] = ["explorer", "chat", "identity", "storage", "compute"];

/// All read models of the network `config` describes.
pub fn all(config: Arc<ChainConfig>) -> Vec<Arc<dyn ReadModel>> {
    let compute = Compute::new(config.compute);
    vec![
        Arc::new(Explorer::new(config)),
        Arc::new(Chat),
        Arc::new(Identity::new()),
        Arc::new(Storage),
        Arc::new(compute),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_models() {
        let config = Arc::new(ChainConfig::devnet().expect("devnet config"));
        let names: Vec<&str> = all(config).iter().map(|model| model.name()).collect();
        assert_eq!(names, MODEL_NAMES);
        assert!(
            names
                .iter()
                .all(|name| crate::model::valid_model_name(name))
        );
    }
}
