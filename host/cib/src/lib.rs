//! Atrium's cluster information base (CIB): the model of configuration and status that the
//! scheduler reads and the cluster replicates, and Pacemaker-compatible CIB XML.
//!
//! ```
//! let cib = atrium_cib::Cib::from_xml(r#"<cib><configuration><crm_config/><nodes>
//!   <node id="1" uname="node1"/></nodes><resources/><constraints/></configuration>
//!   <status/></cib>"#).unwrap();
//! assert_eq!(cib.configuration.nodes[0].uname, "node1");
//! ```

mod dom;
pub mod duration;
pub mod edit;
pub mod error;
pub mod model;
pub mod options;
mod parse;
pub mod rule;
pub mod score;
pub mod status;
mod write;

pub use duration::parse_duration_ms;
pub use error::{CibError, Position, ValueError};
pub use model::*;
pub use options::{ClusterOptions, NoQuorumPolicy, PlacementStrategy};
pub use rule::{Rule, RuleContext};
pub use score::{Score, INFINITY};
pub use status::{FailCount, LrmResource, LrmRscOp, NodeState, Status};

impl Configuration {
    /// The configuration alone, as the XML of a CIB with an empty status (what configuration
    /// history keeps and diffs).
    pub fn to_xml(&self) -> String {
        Cib { configuration: self.clone(), ..Cib::default() }.to_xml()
    }
}

impl Cib {
    /// Read a CIB from Pacemaker XML (as `cibadmin -Q` prints it).
    pub fn from_xml(xml: &str) -> Result<Cib, CibError> {
        parse::cib(&dom::parse(xml)?)
    }

    /// Write the CIB as Pacemaker XML.
    pub fn to_xml(&self) -> String {
        write::to_xml(self)
    }

    /// The cluster options from `crm_config`, defaults filled in.
    pub fn options(&self) -> ClusterOptions {
        ClusterOptions::from_sets(&self.configuration.crm_config)
    }
}

/// Pacemaker's boolean spellings.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// True for Pacemaker's true spellings, false otherwise.
pub fn is_true(s: &str) -> bool {
    parse_bool(s) == Some(true)
}
