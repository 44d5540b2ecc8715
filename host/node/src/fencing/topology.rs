//! Which devices to try for a target, in what order: the configured fencing topology's levels
//! for it (all devices of a level must succeed; a failed level falls through to the next), or
//! without topology, each device able to fence it as a level of its own, by priority.

use std::collections::BTreeMap;

use atrium_cib::Configuration;

use super::device::{DeviceError, FenceDevice};

/// One fencing level: every device must succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub index: u32,
    pub devices: Vec<String>,
}

/// The levels to try for `target`, in order. `attributes` are the target's node attributes
/// (for levels chosen by `target-attribute`). Disabled devices are left out; a level naming a
/// device that does not exist is a configuration error.
pub fn levels_for(config: &Configuration, devices: &[FenceDevice], target: &str, attributes: &BTreeMap<String, String>) -> Result<Vec<Level>, DeviceError> {
    let mut configured: Vec<&atrium_cib::FencingLevel> = config
        .fencing_topology
        .iter()
        .filter(|l| {
            l.target.as_deref() == Some(target)
                || l.target_pattern.as_deref().and_then(|p| regex::Regex::new(&format!("^(?:{p})$")).ok()).is_some_and(|re| re.is_match(target))
                || l.target_attribute.as_deref().is_some_and(|a| attributes.get(a).map(String::as_str) == l.target_value.as_deref())
        })
        .collect();
    if !configured.is_empty() {
        configured.sort_by_key(|l| l.index);
        let mut levels = Vec::new();
        for l in configured {
            for d in &l.devices {
                if !devices.iter().any(|x| &x.id == d) {
                    return Err(DeviceError::UnknownDevice { level: l.id.clone(), device: d.clone() });
                }
            }
            let usable: Vec<String> = l.devices.iter().filter(|d| devices.iter().any(|x| &x.id == *d && !x.disabled)).cloned().collect();
            // A level with a disabled device cannot succeed as a whole.
            if usable.len() == l.devices.len() {
                levels.push(Level { index: l.index, devices: usable });
            }
        }
        return Ok(levels);
    }
    let mut candidates: Vec<&FenceDevice> = devices.iter().filter(|d| !d.disabled && d.statically_covers(target) != Some(false)).collect();
    candidates.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
    Ok(candidates.into_iter().enumerate().map(|(i, d)| Level { index: i as u32 + 1, devices: vec![d.id.clone()] }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fencing::device::configured_devices;

    fn config(text: &str) -> Configuration {
        crate::config_file::parse(text, "test.crm").unwrap().configuration
    }

    const DEVICES: &str = "primitive helper1 stonith:external/stonith-helper params hostlist=vm01
primitive kdump1 stonith:fence_kdump params pcmk_host_list=vm01
primitive ipmi1 stonith:fence_ipmilan params pcmk_host_list=vm01 ip=127.0.0.1
primitive ipmi2 stonith:fence_ipmilan params pcmk_host_list=vm02 ip=127.0.0.1 meta priority=5
primitive any stonith:fence-dummy params pcmk_host_check=none
";

    #[test]
    fn topology_levels_in_index_order() {
        let cfg = config(&format!("{DEVICES}fencing_topology vm01: helper1 kdump1 ipmi1 vm02: ipmi2,any\n"));
        let devices = configured_devices(&cfg).unwrap();
        let levels = levels_for(&cfg, &devices, "vm01", &BTreeMap::new()).unwrap();
        let names: Vec<Vec<&str>> = levels.iter().map(|l| l.devices.iter().map(String::as_str).collect()).collect();
        assert_eq!(names, [vec!["helper1"], vec!["kdump1"], vec!["ipmi1"]]);
        let levels = levels_for(&cfg, &devices, "vm02", &BTreeMap::new()).unwrap();
        assert_eq!(levels, [Level { index: 1, devices: vec!["ipmi2".into(), "any".into()] }]);
    }

    #[test]
    fn without_topology_each_covering_device_is_a_level_by_priority() {
        let cfg = config(DEVICES);
        let devices = configured_devices(&cfg).unwrap();
        let ids = |t: &str| levels_for(&cfg, &devices, t, &BTreeMap::new()).unwrap().into_iter().map(|l| l.devices.join(",")).collect::<Vec<_>>();
        // helper1 has no static list: it is asked (dynamic list) at fencing time.
        assert_eq!(ids("vm02"), ["ipmi2", "any", "helper1"]);
        assert_eq!(ids("vm01"), ["any", "helper1", "ipmi1", "kdump1"]);
    }

    #[test]
    fn pattern_attribute_levels_and_unknown_devices() {
        let mut cfg = config(DEVICES);
        let level = |id: &str, index, devices: &[&str]| atrium_cib::FencingLevel {
            id: id.into(),
            index,
            target: None,
            target_pattern: None,
            target_attribute: None,
            target_value: None,
            devices: devices.iter().map(|d| d.to_string()).collect(),
        };
        cfg.fencing_topology.push(atrium_cib::FencingLevel { target_pattern: Some("vm0[0-9]".into()), ..level("l1", 1, &["kdump1"]) });
        cfg.fencing_topology.push(atrium_cib::FencingLevel { target_attribute: Some("rack".into()), target_value: Some("r1".into()), ..level("l2", 1, &["ipmi1"]) });
        let devices = configured_devices(&cfg).unwrap();
        assert_eq!(levels_for(&cfg, &devices, "vm07", &BTreeMap::new()).unwrap()[0].devices, ["kdump1"]);
        assert!(levels_for(&cfg, &devices, "vm070", &BTreeMap::new()).unwrap().len() > 1, "the pattern matches whole names only");
        let rack: BTreeMap<String, String> = [("rack".to_string(), "r1".to_string())].into();
        assert_eq!(levels_for(&cfg, &devices, "other", &rack).unwrap()[0].devices, ["ipmi1"]);
        cfg.fencing_topology.push(atrium_cib::FencingLevel { target: Some("vm01".into()), ..level("l3", 1, &["nosuch"]) });
        let err = levels_for(&cfg, &devices, "vm01", &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("level l3: device nosuch"), "{err}");
    }
}
