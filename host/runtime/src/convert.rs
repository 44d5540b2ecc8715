//! Conversions between the WIT types and the contract's types, shared by resource and fence
//! agents.

use crate::bindings::atrium::agent::types as wit;
use atrium_contract::{ActionRequest, ActionSpec, MetaData, OcfStatus, ParamType, Parameter};
use std::collections::BTreeMap;
use std::time::Duration;

fn key_values(m: &BTreeMap<String, String>) -> Vec<wit::KeyValue> {
    m.iter().map(|(k, v)| wit::KeyValue { key: k.clone(), value: v.clone() }).collect()
}

pub(crate) fn to_wit_context(req: &ActionRequest) -> wit::OpContext {
    wit::OpContext {
        instance: req.instance.clone(),
        params: key_values(&req.params),
        meta: key_values(&req.meta),
        timeout_ms: req.timeout.as_millis() as u64,
        interval_ms: req.interval.as_millis() as u64,
        depth: req.depth,
    }
}

pub(crate) fn from_wit_status(s: wit::OcfStatus) -> OcfStatus {
    use wit::OcfStatus as W;
    match s {
        W::Success => OcfStatus::Success,
        W::GenericError => OcfStatus::GenericError,
        W::InvalidArgs => OcfStatus::InvalidArgs,
        W::Unimplemented => OcfStatus::Unimplemented,
        W::InsufficientPrivileges => OcfStatus::InsufficientPrivileges,
        W::NotInstalled => OcfStatus::NotInstalled,
        W::NotConfigured => OcfStatus::NotConfigured,
        W::NotRunning => OcfStatus::NotRunning,
        W::RunningPromoted => OcfStatus::RunningPromoted,
        W::FailedPromoted => OcfStatus::FailedPromoted,
        W::Degraded => OcfStatus::Degraded,
        W::DegradedPromoted => OcfStatus::DegradedPromoted,
    }
}

pub(crate) fn from_wit_metadata(m: wit::AgentMetadata) -> MetaData {
    let ms = Duration::from_millis;
    MetaData {
        name: m.name,
        version: m.version,
        shortdesc: m.shortdesc,
        longdesc: m.longdesc,
        parameters: m
            .parameters
            .into_iter()
            .map(|p| Parameter {
                name: p.name,
                shortdesc: p.shortdesc,
                longdesc: p.longdesc,
                content_type: match p.content_type {
                    wit::ParamType::String => ParamType::String,
                    wit::ParamType::Integer => ParamType::Integer,
                    wit::ParamType::Boolean => ParamType::Boolean,
                    wit::ParamType::Time => ParamType::Time,
                    wit::ParamType::Port => ParamType::Port,
                    wit::ParamType::Select => ParamType::Select,
                },
                default: p.default,
                required: p.required,
                unique_group: p.unique_group,
                reloadable: p.reloadable,
                values: p.values,
            })
            .collect(),
        actions: m
            .actions
            .into_iter()
            .map(|a| ActionSpec { name: a.name, timeout: ms(a.timeout_ms), interval: a.interval_ms.map(ms), depth: a.depth, role: a.role })
            .collect(),
    }
}

/// The context of a fence call: the device is the instance (the state capability is scoped to
/// it), its parameters are the params; fence calls have no meta values, interval or depth.
pub(crate) fn fence_context(req: &atrium_contract::FenceRequest) -> wit::OpContext {
    wit::OpContext {
        instance: req.device.clone(),
        params: key_values(&req.params),
        meta: Vec::new(),
        timeout_ms: req.timeout.as_millis() as u64,
        interval_ms: 0,
        depth: 0,
    }
}
