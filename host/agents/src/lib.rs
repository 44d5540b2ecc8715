//! The built-in WASM agents, compiled from agents-wasm/ by this crate's build script and
//! embedded in the binary, each with the manifest it ships.

/// A built-in agent: its component bytes and its manifest (TOML).
#[derive(Debug, Clone, Copy)]
pub struct BuiltinAgent {
    pub name: &'static str,
    pub component: &'static [u8],
    pub manifest: &'static str,
}

macro_rules! agent {
    ($name:literal) => {
        BuiltinAgent {
            name: $name,
            component: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".wasm")),
            manifest: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../agents-wasm/", $name, "/agent.toml")),
        }
    };
}

const BUILTIN: &[BuiltinAgent] = &[
    agent!("docker"),
    agent!("dummy"),
    agent!("fence-dummy"),
    agent!("fence-process"),
    agent!("stateful"),
    agent!("stonith-helper"),
    agent!("virtual-domain"),
];

/// Every built-in agent, in name order.
pub fn all() -> &'static [BuiltinAgent] {
    BUILTIN
}

/// The built-in agent of that name (`dummy`, `stateful`, `fence-dummy`, ...).
pub fn find(name: &str) -> Option<&'static BuiltinAgent> {
    BUILTIN.iter().find(|a| a.name == name)
}

/// A misbehaving agent for the runtime's sandbox tests (see agents-wasm/hostile).
#[cfg(feature = "test-agents")]
pub const HOSTILE: BuiltinAgent = agent!("hostile");

#[cfg(test)]
mod tests {
    #[test]
    fn builtins_are_components_with_manifests() {
        for a in super::all() {
            // A component starts with the wasm magic and layer 1 (component) in its version.
            assert_eq!(&a.component[0..4], b"\0asm", "{}", a.name);
            assert_eq!(&a.component[6..8], &[1, 0], "{} is not a component", a.name);
            assert!(a.manifest.contains(&format!("name = \"{}\"", a.name)));
        }
        assert!(super::find("dummy").is_some());
        assert!(super::find("nope").is_none());
        assert!(super::find("stonith-helper").unwrap().manifest.contains("kind = \"fence\""));
        let names: Vec<&str> = super::all().iter().map(|a| a.name).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "BUILTIN is kept in name order: {names:?}");
    }
}
