//! Blueprints: a YAML file describing a virtual datacenter (VMs, sizes,
//! networks, volumes, placement constraints, healing policy), parsed into a
//! validated [`DeploymentSpec`], and [`plan`]: the pure diff between a
//! blueprint and the owner's deployments on chain.
//!
//! ```yaml
//! name: shop                 # the deployment (unique per owner)
//! constraints:               # all optional
//!   farms: [farm-a]
//!   country: be
//!   city: ghent
//! reschedule: move           # move (default) | stay
//! networks:
//!   - name: private
//!     cidr: 10.1.0.0/24
//! vms:
//!   - name: web-1
//!     cores: 1
//!     memory_mib: 512
//!     disk_gib: 5
//!     image: alpine
//!     network: private
//!     volumes: [{ name: data, size_gib: 10 }]
//!     anti_affinity: web     # VMs sharing a group never share a node
//!     node: <node id hex>    # optional pin
//! ```
//!
//! Unknown fields are refused. Every error carries the line (and, for
//! syntax errors, the column) and the field it is about. [`plan`] is
//! idempotent: once its diff is applied, planning the same blueprint again
//! yields no change.

use ledger::payload::compute::{
    DeploymentId, DeploymentSpec, Name, NameError, NetworkSpec, NodeId, PlacementConstraints,
    ReschedulePolicy, Resources, SpecError, VolumeSpec, WorkloadSpec,
};
use serde::Deserialize;
use serde_saphyr::Spanned;
use thiserror::Error;

/// Largest blueprint file accepted, in bytes.
pub const MAX_BLUEPRINT_BYTES: usize = 256 * 1024;

/// Why a blueprint is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BlueprintError {
    #[error("blueprint is {size} bytes; at most {MAX_BLUEPRINT_BYTES} are accepted")]
    TooLarge { size: usize },
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: u64,
        column: u64,
        message: String,
    },
    #[error("line {line}: {field}: {source}")]
    BadName {
        line: u64,
        field: String,
        source: NameError,
    },
    #[error("line {line}: {field}: node {value:?} is not a 64-digit hex node ID")]
    BadNode {
        line: u64,
        field: String,
        value: String,
    },
    #[error("line {line}: {source}")]
    Invalid { line: u64, source: SpecError },
}

impl BlueprintError {
    /// The 1-based line the error is about.
    pub fn line(&self) -> Option<u64> {
        match self {
            BlueprintError::TooLarge { .. } => None,
            BlueprintError::Syntax { line, .. }
            | BlueprintError::BadName { line, .. }
            | BlueprintError::BadNode { line, .. }
            | BlueprintError::Invalid { line, .. } => Some(*line),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlueprint {
    name: Spanned<String>,
    #[serde(default)]
    constraints: Option<Spanned<RawConstraints>>,
    #[serde(default)]
    reschedule: Option<Spanned<RawPolicy>>,
    #[serde(default)]
    networks: Vec<Spanned<RawNetwork>>,
    vms: Spanned<Vec<Spanned<RawVm>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConstraints {
    #[serde(default)]
    farms: Vec<Spanned<String>>,
    country: Option<Spanned<String>>,
    city: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawPolicy {
    Move,
    Stay,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    name: Spanned<String>,
    cidr: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVm {
    name: Spanned<String>,
    cores: u32,
    memory_mib: u64,
    disk_gib: u64,
    image: String,
    network: Option<Spanned<String>>,
    #[serde(default)]
    volumes: Vec<Spanned<RawVolume>>,
    anti_affinity: Option<Spanned<String>>,
    node: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVolume {
    name: Spanned<String>,
    size_gib: u64,
}

fn line<T>(spanned: &Spanned<T>) -> u64 {
    spanned.referenced.line()
}

fn name(value: &Spanned<String>, field: impl Into<String>) -> Result<Name, BlueprintError> {
    Name::new(&value.value).map_err(|source| BlueprintError::BadName {
        line: line(value),
        field: field.into(),
        source,
    })
}

/// Parses and validates a blueprint. Workloads, networks and volumes come
/// out sorted by name (the canonical order on chain).
pub fn parse(text: &str) -> Result<DeploymentSpec, BlueprintError> {
    if text.len() > MAX_BLUEPRINT_BYTES {
        return Err(BlueprintError::TooLarge { size: text.len() });
    }
    let raw: RawBlueprint = serde_saphyr::from_str(text).map_err(|error| {
        let location = error.location();
        BlueprintError::Syntax {
            line: location.map_or(0, |l| l.line()),
            column: location.map_or(0, |l| l.column()),
            message: first_line(&error.to_string()),
        }
    })?;
    let deployment_name = name(&raw.name, "name")?;
    let mut constraints = PlacementConstraints::default();
    if let Some(raw_constraints) = &raw.constraints {
        let raw_constraints = &raw_constraints.value;
        for farm in &raw_constraints.farms {
            constraints.farms.push(name(farm, "constraints.farms")?);
        }
        constraints.farms.sort();
        constraints.country = raw_constraints
            .country
            .as_ref()
            .map(|country| {
                ledger::payload::compute::Location::check_country(&country.value)
                    .map(|()| country.value.clone())
                    .map_err(|source| BlueprintError::BadName {
                        line: line(country),
                        field: "constraints.country".into(),
                        source,
                    })
            })
            .transpose()?;
        constraints.city = raw_constraints
            .city
            .as_ref()
            .map(|city| name(city, "constraints.city"))
            .transpose()?;
    }
    let reschedule = match raw.reschedule.as_ref().map(|policy| policy.value) {
        None | Some(RawPolicy::Move) => ReschedulePolicy::Move,
        Some(RawPolicy::Stay) => ReschedulePolicy::Stay,
    };
    // Lines of each named entry, to point errors found later at them.
    let mut lines: Vec<(String, u64)> = Vec::new();
    let mut networks = Vec::new();
    for (index, network) in raw.networks.iter().enumerate() {
        let field = format!("networks[{index}]");
        let network_name = name(&network.value.name, format!("{field}.name"))?;
        lines.push((format!("network {network_name}"), line(network)));
        let spec =
            NetworkSpec::parse(network_name, &network.value.cidr.value).map_err(|source| {
                BlueprintError::Invalid {
                    line: line(&network.value.cidr),
                    source,
                }
            })?;
        networks.push(spec);
    }
    networks.sort();
    let mut workloads = Vec::new();
    for (index, vm) in raw.vms.value.iter().enumerate() {
        let field = format!("vms[{index}]");
        let vm_line = line(vm);
        let vm = &vm.value;
        let vm_name = name(&vm.name, format!("{field}.name"))?;
        lines.push((format!("workload {vm_name}"), vm_line));
        let mut volumes = Vec::new();
        for (volume_index, volume) in vm.volumes.iter().enumerate() {
            volumes.push(VolumeSpec {
                name: name(
                    &volume.value.name,
                    format!("{field}.volumes[{volume_index}].name"),
                )?,
                size_gib: volume.value.size_gib,
            });
        }
        volumes.sort();
        let node = vm
            .node
            .as_ref()
            .map(|node| {
                node.value
                    .parse::<NodeId>()
                    .map_err(|_| BlueprintError::BadNode {
                        line: line(node),
                        field: format!("{field}.node"),
                        value: node.value.clone(),
                    })
            })
            .transpose()?;
        workloads.push(WorkloadSpec {
            name: vm_name,
            resources: Resources::new(vm.cores, vm.memory_mib, vm.disk_gib),
            image: vm.image.clone(),
            network: vm
                .network
                .as_ref()
                .map(|network| name(network, format!("{field}.network")))
                .transpose()?,
            volumes,
            anti_affinity: vm
                .anti_affinity
                .as_ref()
                .map(|group| name(group, format!("{field}.anti_affinity")))
                .transpose()?,
            node,
        });
    }
    workloads.sort_by(|a, b| a.name.cmp(&b.name));
    let spec = DeploymentSpec {
        name: deployment_name,
        constraints,
        reschedule,
        networks,
        workloads,
    };
    spec.validate().map_err(|source| {
        let entry = match &source {
            SpecError::Zero { workload, .. }
            | SpecError::DemandOverflow { workload }
            | SpecError::BadImage { workload, .. }
            | SpecError::UnknownNetwork { workload, .. } => Some(format!("workload {workload}")),
            SpecError::Duplicate { what, name, .. } => Some(format!("{what} {name}")),
            SpecError::BadCidr { network, .. } => Some(format!("network {network}")),
            _ => None,
        };
        // A duplicate points at its second occurrence.
        let line = entry
            .and_then(|entry| {
                lines
                    .iter()
                    .filter(|(key, _)| *key == entry)
                    .map(|(_, line)| *line)
                    .next_back()
            })
            .unwrap_or_else(|| line(&raw.vms));
        BlueprintError::Invalid { line, source }
    })?;
    Ok(spec)
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().to_owned()
}

/// A deployment of the owner as the chain (or its read model) has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentDeployment {
    pub id: DeploymentId,
    pub spec: DeploymentSpec,
}

/// What applying a blueprint does to the deployment of its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The chain already matches the blueprint.
    Nothing,
    /// No deployment of that name exists: create one.
    Create(DeploymentSpec),
    /// Replace the deployment's spec (only the listed changes differ).
    Update {
        deployment: DeploymentId,
        spec: DeploymentSpec,
    },
    /// Cancel the deployment (destroy).
    Cancel { deployment: DeploymentId },
}

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    CreateWorkload(Name),
    /// The named fields differ (`cores`, `memory_mib`, `disk_gib`, `image`,
    /// `network`, `volumes`, `anti_affinity`, `node`).
    UpdateWorkload {
        name: Name,
        fields: Vec<&'static str>,
    },
    DeleteWorkload(Name),
    /// Deployment-level settings differ (`constraints`, `reschedule`,
    /// `networks`).
    UpdateSettings {
        fields: Vec<&'static str>,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::CreateWorkload(name) => write!(f, "+ create {name}"),
            Change::UpdateWorkload { name, fields } => {
                write!(f, "~ update {name} ({})", fields.join(", "))
            }
            Change::DeleteWorkload(name) => write!(f, "- delete {name}"),
            Change::UpdateSettings { fields } => {
                write!(f, "~ update deployment settings ({})", fields.join(", "))
            }
        }
    }
}

/// A plan: the action and the changes it makes, workload by workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub action: Action,
    pub changes: Vec<Change>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.action == Action::Nothing
    }
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("the owner has {count} deployments named {name}; names must be unique")]
    Ambiguous { name: Name, count: usize },
}

fn find<'a>(
    name: &Name,
    current: &'a [CurrentDeployment],
) -> Result<Option<&'a CurrentDeployment>, PlanError> {
    let matching: Vec<&CurrentDeployment> = current
        .iter()
        .filter(|deployment| &deployment.spec.name == name)
        .collect();
    match matching.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(PlanError::Ambiguous {
            name: name.clone(),
            count: many.len(),
        }),
    }
}

/// The diff that makes the chain match `desired`.
pub fn plan(desired: &DeploymentSpec, current: &[CurrentDeployment]) -> Result<Diff, PlanError> {
    let Some(existing) = find(&desired.name, current)? else {
        return Ok(Diff {
            action: Action::Create(desired.clone()),
            changes: desired
                .workloads
                .iter()
                .map(|w| Change::CreateWorkload(w.name.clone()))
                .collect(),
        });
    };
    let before = &existing.spec;
    let mut changes = Vec::new();
    let mut settings = Vec::new();
    if before.constraints != desired.constraints {
        settings.push("constraints");
    }
    if before.reschedule != desired.reschedule {
        settings.push("reschedule");
    }
    if before.networks != desired.networks {
        settings.push("networks");
    }
    if !settings.is_empty() {
        changes.push(Change::UpdateSettings { fields: settings });
    }
    for workload in &desired.workloads {
        match before.workload(&workload.name) {
            None => changes.push(Change::CreateWorkload(workload.name.clone())),
            Some(old) => {
                let fields = workload_differences(old, workload);
                if !fields.is_empty() {
                    changes.push(Change::UpdateWorkload {
                        name: workload.name.clone(),
                        fields,
                    });
                }
            }
        }
    }
    for old in &before.workloads {
        if desired.workload(&old.name).is_none() {
            changes.push(Change::DeleteWorkload(old.name.clone()));
        }
    }
    let action = if changes.is_empty() {
        Action::Nothing
    } else {
        Action::Update {
            deployment: existing.id,
            spec: desired.clone(),
        }
    };
    Ok(Diff { action, changes })
}

/// The diff that removes the deployment called `name` (nothing if absent).
pub fn plan_destroy(name: &Name, current: &[CurrentDeployment]) -> Result<Diff, PlanError> {
    Ok(match find(name, current)? {
        None => Diff {
            action: Action::Nothing,
            changes: Vec::new(),
        },
        Some(existing) => Diff {
            action: Action::Cancel {
                deployment: existing.id,
            },
            changes: existing
                .spec
                .workloads
                .iter()
                .map(|w| Change::DeleteWorkload(w.name.clone()))
                .collect(),
        },
    })
}

fn workload_differences(old: &WorkloadSpec, new: &WorkloadSpec) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let mut differs = |field, different: bool| {
        if different {
            fields.push(field);
        }
    };
    differs("cores", old.resources.cores != new.resources.cores);
    differs(
        "memory_mib",
        old.resources.memory_mib != new.resources.memory_mib,
    );
    differs("disk_gib", old.resources.disk_gib != new.resources.disk_gib);
    differs("image", old.image != new.image);
    differs("network", old.network != new.network);
    differs("volumes", old.volumes != new.volumes);
    differs("anti_affinity", old.anti_affinity != new.anti_affinity);
    differs("node", old.node != new.node);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::Hash32;

    const SHOP: &str = "\
name: shop
constraints:
  farms: [farm-b, farm-a]
  country: be
reschedule: stay
networks:
  - name: private
    cidr: 10.1.0.0/24
vms:
  - name: web-2
    cores: 1
    memory_mib: 512
    disk_gib: 5
    image: alpine
    network: private
    anti_affinity: web
  - name: web-1
    cores: 1
    memory_mib: 512
    disk_gib: 5
    image: alpine
    network: private
    anti_affinity: web
  - name: db
    cores: 2
    memory_mib: 2048
    disk_gib: 10
    image: debian-12
    volumes:
      - { name: data, size_gib: 20 }
";

    fn n(text: &str) -> Name {
        Name::new(text).unwrap()
    }

    #[test]
    fn parses_into_a_sorted_validated_spec() {
        let spec = parse(SHOP).unwrap();
        assert_eq!(spec.name, n("shop"));
        assert_eq!(spec.reschedule, ReschedulePolicy::Stay);
        assert_eq!(spec.constraints.farms, vec![n("farm-a"), n("farm-b")]);
        assert_eq!(spec.constraints.country.as_deref(), Some("be"));
        assert_eq!(spec.networks[0].cidr(), "10.1.0.0/24");
        let names: Vec<&str> = spec.workloads.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["db", "web-1", "web-2"]);
        let db = &spec.workloads[0];
        assert_eq!(db.demand(), Some(Resources::new(2, 2048, 30)));
        assert_eq!(db.volumes[0].name, n("data"));
        assert_eq!(spec.workloads[1].anti_affinity, Some(n("web")));
    }

    fn error_of(text: &str) -> BlueprintError {
        parse(text).unwrap_err()
    }

    #[test]
    fn errors_name_line_and_field() {
        let syntax = error_of("name: shop\nvms: [\n");
        assert!(matches!(syntax, BlueprintError::Syntax { .. }), "{syntax}");
        let unknown = error_of("name: shop\nvms:\n  - name: a\n    cpus: 1\n");
        assert!(
            matches!(&unknown, BlueprintError::Syntax { line: 4, message, .. } if message.contains("cpus")),
            "{unknown}"
        );
        let bad_name = error_of(&SHOP.replace("name: web-1", "name: Web_1"));
        assert!(
            matches!(&bad_name, BlueprintError::BadName { line: 17, field, .. } if field == "vms[1].name"),
            "{bad_name}"
        );
        let bad_network = error_of(&SHOP.replace(
            "network: private\n    anti_affinity: web\n  - name: web-1",
            "network: public\n    anti_affinity: web\n  - name: web-1",
        ));
        assert_eq!(bad_network.line(), Some(10), "{bad_network}");
        assert!(
            bad_network
                .to_string()
                .contains("workloads[web-2].network: no network named public"),
            "{bad_network}"
        );
        let duplicate = error_of(&SHOP.replace("name: web-1", "name: web-2"));
        assert_eq!(duplicate.line(), Some(17), "{duplicate}");
        let zero = error_of(&SHOP.replace("cores: 2", "cores: 0"));
        assert!(
            matches!(
                &zero,
                BlueprintError::Invalid {
                    line: 24,
                    source: SpecError::Zero { field: "cores", .. }
                }
            ),
            "{zero}"
        );
        let cidr = error_of(&SHOP.replace("10.1.0.0/24", "10.1.0.1/24"));
        assert!(
            matches!(
                &cidr,
                BlueprintError::Invalid {
                    line: 8,
                    source: SpecError::BadCidr { .. }
                }
            ),
            "{cidr}"
        );
        let node = error_of(&SHOP.replace("image: debian-12", "image: debian-12\n    node: xyz"));
        assert!(matches!(node, BlueprintError::BadNode { .. }), "{node}");
        let image = error_of(&SHOP.replace("image: debian-12", "image: 'Debian 12'"));
        assert!(
            matches!(
                &image,
                BlueprintError::Invalid {
                    source: SpecError::BadImage { .. },
                    ..
                }
            ),
            "{image}"
        );
        assert!(matches!(
            parse(&"#".repeat(MAX_BLUEPRINT_BYTES + 1)),
            Err(BlueprintError::TooLarge { .. })
        ));
        let none = error_of("name: shop\nvms: []\n");
        assert!(matches!(
            none,
            BlueprintError::Invalid {
                source: SpecError::NoWorkloads,
                ..
            }
        ));
    }

    fn deployed(spec: &DeploymentSpec) -> Vec<CurrentDeployment> {
        vec![CurrentDeployment {
            id: DeploymentId(Hash32([1; 32])),
            spec: spec.clone(),
        }]
    }

    #[test]
    fn plan_creates_then_is_idempotent() {
        let spec = parse(SHOP).unwrap();
        let first = plan(&spec, &[]).unwrap();
        assert_eq!(first.action, Action::Create(spec.clone()));
        assert_eq!(first.changes.len(), 3);
        let again = plan(&spec, &deployed(&spec)).unwrap();
        assert!(again.is_empty());
        assert!(again.changes.is_empty());
    }

    #[test]
    fn plan_changes_only_what_differs() {
        let spec = parse(SHOP).unwrap();
        let current = deployed(&spec);
        let resized = parse(&SHOP.replace("memory_mib: 2048", "memory_mib: 4096")).unwrap();
        let diff = plan(&resized, &current).unwrap();
        assert_eq!(
            diff.changes,
            vec![Change::UpdateWorkload {
                name: n("db"),
                fields: vec!["memory_mib"],
            }]
        );
        assert_eq!(
            diff.action,
            Action::Update {
                deployment: current[0].id,
                spec: resized.clone(),
            }
        );
        assert!(plan(&resized, &deployed(&resized)).unwrap().is_empty());

        let fewer = parse(&SHOP.replace("reschedule: stay", "reschedule: move").replace(
            "  - name: web-2\n    cores: 1\n    memory_mib: 512\n    disk_gib: 5\n    image: alpine\n    network: private\n    anti_affinity: web\n",
            "  - name: cache\n    cores: 1\n    memory_mib: 256\n    disk_gib: 1\n    image: alpine\n",
        ))
        .unwrap();
        let diff = plan(&fewer, &current).unwrap();
        let lines: Vec<String> = diff.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "~ update deployment settings (reschedule)",
                "+ create cache",
                "- delete web-2"
            ]
        );
    }

    #[test]
    fn destroy_cancels_the_named_deployment() {
        let spec = parse(SHOP).unwrap();
        let current = deployed(&spec);
        let diff = plan_destroy(&n("shop"), &current).unwrap();
        assert_eq!(
            diff.action,
            Action::Cancel {
                deployment: current[0].id
            }
        );
        assert_eq!(diff.changes.len(), 3);
        assert!(plan_destroy(&n("shop"), &[]).unwrap().is_empty());
        let twice = [current[0].clone(), current[0].clone()];
        assert!(matches!(
            plan(&spec, &twice),
            Err(PlanError::Ambiguous { count: 2, .. })
        ));
    }

    #[test]
    fn the_blueprints_in_the_docs_parse() {
        for (document, text) in [
            ("README.md", include_str!("../../../../../README.md")),
            (
                "docs/compute.md",
                include_str!("../../../../../docs/compute.md"),
            ),
        ] {
            let mut found = 0;
            for block in text.split("```yaml\n").skip(1) {
                let yaml = block.split("```").next().unwrap();
                let spec = parse(yaml).unwrap_or_else(|error| panic!("{document}: {error}"));
                assert_eq!(spec.workloads.len(), 3, "{document}");
                found += 1;
            }
            assert!(found > 0, "{document} shows a blueprint");
        }
    }
}
