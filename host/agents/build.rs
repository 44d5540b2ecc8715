//! Builds the agents in agents-wasm/ for wasm32-wasip2 with their own target directory, so a
//! plain `cargo build` of the host also produces the built-in agents (as wasmtime does for its
//! test programs).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const AGENTS: &[&str] = &["dummy", "stateful", "hostile", "docker", "virtual-domain", "fence-dummy", "fence-process", "stonith-helper"];
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..");
    let agents_dir = root.join("agents-wasm");
    let wit_dir = root.join("wit");
    println!("cargo:rerun-if-changed={}", agents_dir.join("Cargo.toml").display());
    for dir in ["sdk"].iter().chain(AGENTS) {
        println!("cargo:rerun-if-changed={}", agents_dir.join(dir).display());
    }
    println!("cargo:rerun-if-changed={}", wit_dir.display());

    check_target_installed();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    // Worktrees that share one CARGO_TARGET_DIR share this OUT_DIR too (cargo's hashes leave the
    // source path out), so each source tree gets its own agents target: otherwise one tree's
    // newer SDK build counts as fresh for another tree's changed agents.
    let target_dir = out_dir.join(format!("agents-target-{:016x}", path_hash(&agents_dir)));
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&agents_dir)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(&target_dir);
    // The outer build's settings are for the host target, not for the agents.
    for var in ["CARGO_TARGET_DIR", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER"] {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars() {
        if key.starts_with("CARGO_PROFILE_") || key.starts_with("CARGO_CFG_") || key.starts_with("CARGO_FEATURE_") {
            cmd.env_remove(key);
        }
    }
    let status = cmd.status().expect("could not run cargo to build agents-wasm");
    if !status.success() {
        panic!("building the WASM agents in {} failed (see the errors above)", agents_dir.display());
    }
    for agent in AGENTS {
        // Cargo names a cdylib after its crate with '-' turned into '_'.
        let built = target_dir.join(TARGET).join("release").join(format!("{}.wasm", agent.replace('-', "_")));
        let dest = out_dir.join(format!("{agent}.wasm"));
        std::fs::copy(&built, &dest).unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
    }
}

fn path_hash(path: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf()).hash(&mut h);
    h.finish()
}

fn check_target_installed() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).args(["--print", "sysroot"]).output().expect("could not run rustc");
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !Path::new(&sysroot).join("lib/rustlib").join(TARGET).join("lib").is_dir() {
        panic!(
            "\n\nThe {TARGET} target is not installed, so the built-in WASM agents cannot be built.\n\
             Add it with:  rustup target add {TARGET}\n\
             (rust-toolchain.toml lists it, so rustup normally installs it on first use.)\n\n"
        );
    }
}
