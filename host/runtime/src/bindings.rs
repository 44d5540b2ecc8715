//! Host-side bindings generated from wit/.

wasmtime::component::bindgen!({
    world: "resource-agent-world",
    path: "../../wit",
});
