//! The typed agent contract inside the host.
//!
//! WASM components (through `wit/`) and OCF scripts (through the shim) are both driven through
//! [`ResourceAgent`] and [`FenceAgent`], so the executor never cares which kind an agent is.

mod action;
mod address;
mod attributes;
mod agent;
mod metadata;
mod metadata_xml;
mod status;

pub use action::{Action, ActionRequest, NotifyInfo, UnknownAction};
pub use attributes::{AttributeError, FileAttributeStore, NodeAttributeStore, promotion_attribute};
pub use address::{AddressError, AgentAddress, AgentClass, BUILTIN_PROVIDER};
pub use agent::{AgentError, FenceAgent, FenceRequest, PowerState, ResourceAgent};
pub use metadata::{ActionSpec, MetaData, ParamType, Parameter};
pub use metadata_xml::{XmlFlavour, format_duration};
pub use status::{OcfStatus, OpResult, OpOutcome};
