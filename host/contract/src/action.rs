use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// An OCF resource-agent action.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    MetaData,
    Validate,
    Start,
    Stop,
    Monitor,
    Promote,
    Demote,
    MigrateTo,
    MigrateFrom,
    Notify,
    Reload,
}

impl Action {
    pub const ALL: [Action; 11] = [
        Action::MetaData,
        Action::Validate,
        Action::Start,
        Action::Stop,
        Action::Monitor,
        Action::Promote,
        Action::Demote,
        Action::MigrateTo,
        Action::MigrateFrom,
        Action::Notify,
        Action::Reload,
    ];

    /// The name OCF scripts take as their first argument.
    pub fn ocf_name(&self) -> &'static str {
        match self {
            Action::MetaData => "meta-data",
            Action::Validate => "validate-all",
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Monitor => "monitor",
            Action::Promote => "promote",
            Action::Demote => "demote",
            Action::MigrateTo => "migrate_to",
            Action::MigrateFrom => "migrate_from",
            Action::Notify => "notify",
            Action::Reload => "reload",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ocf_name())
    }
}

/// An action name that is not part of the OCF contract; OCF agents answer it with
/// "unimplemented" (exit 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action '{0}' (expected one of: meta-data, validate-all, start, stop, monitor, promote, demote, migrate_to, migrate_from, notify, reload)")]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Accept both the OCF spelling and the dashed one (migrate-to) operators type.
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        let found = match norm.as_str() {
            "meta_data" | "metadata" => Action::MetaData,
            "validate_all" | "validate" => Action::Validate,
            "start" => Action::Start,
            "stop" => Action::Stop,
            "monitor" | "status" => Action::Monitor,
            "promote" => Action::Promote,
            "demote" => Action::Demote,
            "migrate_to" => Action::MigrateTo,
            "migrate_from" => Action::MigrateFrom,
            "notify" => Action::Notify,
            "reload" | "reload_agent" => Action::Reload,
            _ => return Err(UnknownAction(s.to_string())),
        };
        Ok(found)
    }
}

/// Notification details for `notify` (OCF_RESKEY_CRM_meta_notify_type / _operation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyInfo {
    /// "pre" or "post".
    pub phase: String,
    /// "start", "stop", "promote" or "demote".
    pub operation: String,
}

/// One action for one resource instance, as the executor hands it to an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRequest {
    pub action: Action,
    /// Resource instance name, with `:N` for clone instances.
    pub instance: String,
    /// Instance parameters (OCF_RESKEY_<name>).
    pub params: BTreeMap<String, String>,
    /// Meta values without the `CRM_meta_` prefix (clone_max, notify_*, migrate_source ...).
    pub meta: BTreeMap<String, String>,
    pub timeout: Duration,
    /// Zero for one-shot actions; for monitor, zero is a probe.
    pub interval: Duration,
    /// OCF_CHECK_LEVEL.
    pub depth: u32,
    /// Target node for migrate_to, source node for migrate_from.
    pub migrate_peer: Option<String>,
    pub notify: Option<NotifyInfo>,
}

impl ActionRequest {
    pub fn new(action: Action, instance: impl Into<String>) -> Self {
        ActionRequest {
            action,
            instance: instance.into(),
            params: BTreeMap::new(),
            meta: BTreeMap::new(),
            timeout: Duration::from_secs(20),
            interval: Duration::ZERO,
            depth: 0,
            migrate_peer: None,
            notify: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ocf_and_dashed_names() {
        assert_eq!("migrate_to".parse::<Action>().unwrap(), Action::MigrateTo);
        assert_eq!("migrate-from".parse::<Action>().unwrap(), Action::MigrateFrom);
        assert_eq!("validate-all".parse::<Action>().unwrap(), Action::Validate);
        assert_eq!("meta-data".parse::<Action>().unwrap(), Action::MetaData);
        assert!("frobnicate".parse::<Action>().is_err());
        for a in Action::ALL {
            assert_eq!(a.ocf_name().parse::<Action>().unwrap(), a);
        }
    }
}
