//! A fence device as configured: a `stonith:` primitive with Pacemaker's `pcmk_*` settings
//! taken out of the parameters the agent sees.

use std::collections::BTreeMap;
use std::fmt;

use atrium_cib::{Configuration, Primitive, nv_flatten, nv_get};

/// Pacemaker's default number of retries of a device action within its timeout.
const DEFAULT_RETRIES: u32 = 2;

/// A fencing or device action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FenceAction {
    Reboot,
    Off,
    On,
    Status,
    List,
    Monitor,
    Metadata,
}

impl FenceAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FenceAction::Reboot => "reboot",
            FenceAction::Off => "off",
            FenceAction::On => "on",
            FenceAction::Status => "status",
            FenceAction::List => "list",
            FenceAction::Monitor => "monitor",
            FenceAction::Metadata => "metadata",
        }
    }

    pub fn parse(s: &str) -> Option<FenceAction> {
        Some(match s {
            "reboot" => FenceAction::Reboot,
            "off" | "poweroff" => FenceAction::Off,
            "on" => FenceAction::On,
            "status" => FenceAction::Status,
            "list" => FenceAction::List,
            "monitor" => FenceAction::Monitor,
            "metadata" | "meta-data" => FenceAction::Metadata,
            _ => return None,
        })
    }
}

impl fmt::Display for FenceAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the fencer learns which targets a device can fence (`pcmk_host_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCheck {
    /// `pcmk_host_list` / `pcmk_host_map` name them.
    StaticList,
    /// The agent's `list` action names them.
    DynamicList,
    /// The agent's `status` action answers for the target.
    Status,
    /// Every target.
    None,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DeviceError {
    #[error("fence device {device}: parameter {param}=\"{value}\": {reason}")]
    Param { device: String, param: String, value: String, reason: String },
    #[error("fencing topology level {level}: device {device} is not a configured stonith resource")]
    UnknownDevice { level: String, device: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FenceDevice {
    pub id: String,
    /// The agent type: `fence_ipmilan`, `fence_kdump`, `fence-dummy`, `external/stonith-helper`.
    pub agent: String,
    /// What the agent is given: the instance attributes without the `pcmk_*` settings.
    pub params: BTreeMap<String, String>,
    pub host_list: Vec<String>,
    /// target -> plug (`pcmk_host_map="node1:1;node2:2"`).
    pub host_map: BTreeMap<String, String>,
    pub host_check: HostCheck,
    pub delay_base_ms: DelaySetting,
    pub delay_max_ms: u64,
    pub priority: i64,
    /// `target-role=Stopped`: configured but not to be used.
    pub disabled: bool,
    /// `pcmk_<action>_action|_timeout|_retries`.
    overrides: BTreeMap<String, String>,
}

/// `pcmk_delay_base`: one delay, or one per target (`node1:5s;node2:0`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DelaySetting {
    pub all_ms: u64,
    pub per_target: BTreeMap<String, u64>,
}

impl DelaySetting {
    pub fn for_target(&self, target: &str) -> u64 {
        self.per_target.get(target).copied().unwrap_or(self.all_ms)
    }
}

impl FenceDevice {
    pub fn from_primitive(p: &Primitive) -> Result<FenceDevice, DeviceError> {
        let all = nv_flatten(&p.instance_attributes, |s| s.rule.is_none());
        let bad = |param: &str, value: &str, reason: &str| DeviceError::Param {
            device: p.id.clone(),
            param: param.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let duration = |param: &str, value: &str| atrium_cib::parse_duration_ms(value).map_err(|e| bad(param, value, &e.to_string()));
        let mut device = FenceDevice {
            id: p.id.clone(),
            agent: p.agent_type.clone(),
            params: BTreeMap::new(),
            host_list: Vec::new(),
            host_map: BTreeMap::new(),
            host_check: HostCheck::DynamicList,
            delay_base_ms: DelaySetting::default(),
            delay_max_ms: 0,
            priority: nv_get(&p.meta_attributes, "priority").and_then(|v| v.trim().parse().ok()).unwrap_or(0),
            disabled: nv_get(&p.meta_attributes, "target-role").is_some_and(|r| r.eq_ignore_ascii_case("stopped")),
            overrides: BTreeMap::new(),
        };
        let mut host_check = None;
        for (name, value) in all {
            match name.as_str() {
                "pcmk_host_list" => device.host_list = split_list(&value),
                "pcmk_host_map" => {
                    for entry in value.split([';', ',', ' ']).filter(|e| !e.trim().is_empty()) {
                        let (target, plug) = entry.split_once([':', '=']).ok_or_else(|| bad(&name, &value, &format!("entry '{entry}' is not TARGET:PLUG")))?;
                        device.host_map.insert(target.trim().to_string(), plug.trim().to_string());
                    }
                }
                "pcmk_host_check" => {
                    host_check = Some(match value.as_str() {
                        "static-list" => HostCheck::StaticList,
                        "dynamic-list" => HostCheck::DynamicList,
                        "status" => HostCheck::Status,
                        "none" => HostCheck::None,
                        _ => return Err(bad(&name, &value, "expected static-list, dynamic-list, status or none")),
                    })
                }
                "pcmk_delay_base" => {
                    for entry in value.split([';', ',']).filter(|e| !e.trim().is_empty()) {
                        match entry.split_once(':') {
                            Some((target, d)) => {
                                device.delay_base_ms.per_target.insert(target.trim().to_string(), duration(&name, d.trim())?);
                            }
                            None => device.delay_base_ms.all_ms = duration(&name, entry.trim())?,
                        }
                    }
                }
                "pcmk_delay_max" => device.delay_max_ms = duration(&name, &value)?,
                n if n.starts_with("pcmk_") && (n.ends_with("_action") || n.ends_with("_timeout") || n.ends_with("_retries")) => {
                    if n.ends_with("_timeout") {
                        duration(&name, &value)?;
                    } else if n.ends_with("_retries") && value.trim().parse::<u32>().is_err() {
                        return Err(bad(&name, &value, "expected a number of retries"));
                    } else if n.ends_with("_action") && FenceAction::parse(&value).is_none() {
                        return Err(bad(&name, &value, "expected an action: reboot, off, on, status, list, monitor or metadata"));
                    }
                    device.overrides.insert(name, value);
                }
                n if n.starts_with("pcmk_") => {}
                _ => {
                    device.params.insert(name, value);
                }
            }
        }
        // Pacemaker's default: a static list when one is given, otherwise ask the device.
        device.host_check = host_check.unwrap_or(if device.host_list.is_empty() && device.host_map.is_empty() { HostCheck::DynamicList } else { HostCheck::StaticList });
        Ok(device)
    }

    /// The plug (port) name the agent knows the target by.
    pub fn plug_for(&self, target: &str) -> String {
        self.host_map.get(target).cloned().unwrap_or_else(|| target.to_string())
    }

    /// Whether the configuration alone says the device can fence `target` (`None`: ask it).
    pub fn statically_covers(&self, target: &str) -> Option<bool> {
        match self.host_check {
            HostCheck::StaticList => Some(self.host_list.iter().any(|h| h == target) || self.host_map.contains_key(target)),
            HostCheck::None => Some(true),
            HostCheck::DynamicList | HostCheck::Status => None,
        }
    }

    /// The action the agent is asked for (`pcmk_reboot_action=off` turns a reboot into off).
    pub fn agent_action(&self, action: FenceAction) -> FenceAction {
        self.overrides.get(&format!("pcmk_{action}_action")).and_then(|a| FenceAction::parse(a)).unwrap_or(action)
    }

    /// `pcmk_<action>_timeout`, else the cluster's fencing timeout.
    pub fn timeout_ms(&self, action: FenceAction, default_ms: u64) -> u64 {
        self.overrides.get(&format!("pcmk_{action}_timeout")).and_then(|t| atrium_cib::parse_duration_ms(t).ok()).unwrap_or(default_ms)
    }

    /// How often a failed action is tried again within its timeout.
    pub fn retries(&self, action: FenceAction) -> u32 {
        self.overrides.get(&format!("pcmk_{action}_retries")).and_then(|r| r.trim().parse().ok()).unwrap_or(DEFAULT_RETRIES)
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split([',', ' ', ';']).map(str::trim).filter(|h| !h.is_empty()).map(str::to_string).collect()
}

/// Every configured fence device (stonith primitives anywhere in the resources), or the first
/// configuration error with the device and parameter it is in.
pub fn configured_devices(config: &Configuration) -> Result<Vec<FenceDevice>, DeviceError> {
    let mut out = Vec::new();
    for p in config.primitives() {
        if p.class == "stonith" {
            out.push(FenceDevice::from_primitive(p)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(params: &str) -> Result<FenceDevice, DeviceError> {
        let text = format!("primitive f1 stonith:fence_kdump params {params}\n");
        let cib = crate::config_file::parse(&text, "test.crm").unwrap();
        let p = cib.configuration.primitives().into_iter().find(|p| p.id == "f1").unwrap().clone();
        FenceDevice::from_primitive(&p)
    }

    #[test]
    fn pcmk_settings_are_taken_out_of_the_agent_parameters() {
        let d = device("pcmk_reboot_retries=1 pcmk_reboot_timeout=60s pcmk_reboot_action=off pcmk_monitor_action=metadata pcmk_host_list=vm01 ipport=7411").unwrap();
        assert_eq!(d.params, [("ipport".to_string(), "7411".to_string())].into());
        assert_eq!(d.host_check, HostCheck::StaticList);
        assert_eq!(d.statically_covers("vm01"), Some(true));
        assert_eq!(d.statically_covers("vm02"), Some(false));
        assert_eq!(d.agent_action(FenceAction::Reboot), FenceAction::Off);
        assert_eq!(d.agent_action(FenceAction::Monitor), FenceAction::Metadata);
        assert_eq!(d.agent_action(FenceAction::Off), FenceAction::Off);
        assert_eq!(d.timeout_ms(FenceAction::Reboot, 5_000), 60_000);
        assert_eq!(d.timeout_ms(FenceAction::Off, 5_000), 5_000);
        assert_eq!((d.retries(FenceAction::Reboot), d.retries(FenceAction::Off)), (1, DEFAULT_RETRIES));
    }

    #[test]
    fn host_map_delays_and_errors() {
        let d = device("pcmk_host_map=\"node1:10;node2:11\" pcmk_delay_base=\"node1:2s;node2:0\" pcmk_delay_max=3s").unwrap();
        assert_eq!(d.plug_for("node2"), "11");
        assert_eq!(d.plug_for("node3"), "node3");
        assert_eq!((d.delay_base_ms.for_target("node1"), d.delay_base_ms.for_target("node2"), d.delay_max_ms), (2_000, 0, 3_000));
        let err = device("pcmk_delay_max=soon").unwrap_err();
        assert!(err.to_string().contains("fence device f1: parameter pcmk_delay_max=\"soon\""), "{err}");
        let err = device("pcmk_host_check=sometimes").unwrap_err();
        assert!(err.to_string().contains("pcmk_host_check"), "{err}");
        assert!(device("pcmk_reboot_action=explode").is_err());
        assert_eq!(device("").unwrap().host_check, HostCheck::DynamicList);
    }
}
