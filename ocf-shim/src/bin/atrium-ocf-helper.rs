//! Test stand-in for the `atrium` binary's helper dispatch: invoked through the shim's
//! crm_attribute / crm_master / crm_node / attrd_updater links.

fn main() {
    std::process::exit(atrium_ocf_shim::helpers::main_from_env());
}
