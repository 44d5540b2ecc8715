//! Host-side bindings generated from wit/.

wasmtime::component::bindgen!({
    world: "resource-agent-world",
    path: "../../wit",
});

/// The fence-agent world. Its imports and shared types are the ones generated above, so one
/// set of capability implementations serves both kinds of agent.
pub mod fence {
    wasmtime::component::bindgen!({
        world: "fence-agent-world",
        path: "../../wit",
        with: {
            "atrium:agent/types": super::atrium::agent::types,
            "atrium:agent/log": super::atrium::agent::log,
            "atrium:agent/state": super::atrium::agent::state,
            "atrium:agent/clock": super::atrium::agent::clock,
            "atrium:agent/exec": super::atrium::agent::exec,
            "atrium:agent/http": super::atrium::agent::http,
        },
    });
}
