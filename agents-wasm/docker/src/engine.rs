//! The Docker Engine API calls the agent makes, over the http capability.

use atrium_agent_sdk::host::clock;
use atrium_agent_sdk::http_json::{ApiResponse, JsonApi, escape};
use serde_json::{Value, json};

/// Timeout of a quick API call (inspect, create, start ...).
const QUICK_MS: u64 = 15_000;

/// What the engine says about a container.
#[derive(Debug, Clone, PartialEq)]
pub enum Container {
    Missing,
    /// Exists but does not run; the engine's words on why (exit code, error).
    Stopped(String),
    Running,
}

pub struct Engine {
    api: JsonApi,
}

fn failed(what: &str, r: &ApiResponse) -> String {
    format!("{what}: Docker Engine answered HTTP {}: {}", r.status, r.message())
}

impl Engine {
    pub fn new(endpoint: &str) -> Engine {
        Engine { api: JsonApi::new(endpoint) }
    }

    /// Is the engine there and answering?
    pub fn ping(&self) -> Result<(), String> {
        let r = self.api.get("/_ping", QUICK_MS).map_err(|e| format!("Docker Engine at {} is not reachable: {e}", self.api.endpoint()))?;
        if r.is_success() { Ok(()) } else { Err(failed("ping", &r)) }
    }

    pub fn container(&self, name: &str) -> Result<Container, String> {
        let r = self.api.get(&format!("/containers/{}/json", escape(name)), QUICK_MS)?;
        match r.status {
            404 => Ok(Container::Missing),
            s if (200..300).contains(&s) => {
                let v = r.json()?;
                let state = &v["State"];
                if state["Running"].as_bool() == Some(true) {
                    Ok(Container::Running)
                } else {
                    let why = match state["Error"].as_str().filter(|e| !e.is_empty()) {
                        Some(e) => format!("status {}, error: {e}", state["Status"].as_str().unwrap_or("?")),
                        None => format!("status {}, exit code {}", state["Status"].as_str().unwrap_or("?"), state["ExitCode"]),
                    };
                    Ok(Container::Stopped(why))
                }
            }
            _ => Err(failed(&format!("inspecting container {name}"), &r)),
        }
    }

    pub fn image_present(&self, image: &str) -> Result<bool, String> {
        // The engine routes /images/{name:.*}/json: slashes and tags stay as they are.
        let r = self.api.get(&format!("/images/{image}/json"), QUICK_MS)?;
        match r.status {
            404 => Ok(false),
            s if (200..300).contains(&s) => Ok(true),
            _ => Err(failed(&format!("inspecting image {image}"), &r)),
        }
    }

    /// Pulls an image; the engine reports failures inside a 200 stream of JSON lines.
    pub fn pull(&self, image: &str) -> Result<(), String> {
        let r = self.api.post(&format!("/images/create?fromImage={}", escape(image)), None, clock::remaining_ms())?;
        if !r.is_success() {
            return Err(failed(&format!("pulling {image}"), &r));
        }
        let text = String::from_utf8_lossy(&r.body);
        let error = text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find_map(|v| v["error"].as_str().map(str::to_string));
        match error {
            Some(e) => Err(format!("pulling {image}: {e}")),
            None => Ok(()),
        }
    }

    pub fn create(&self, name: &str, body: &Value) -> Result<(), String> {
        let r = self.api.post(&format!("/containers/create?name={}", escape(name)), Some(body), QUICK_MS)?;
        if r.is_success() { Ok(()) } else { Err(failed(&format!("creating container {name}"), &r)) }
    }

    pub fn start(&self, name: &str) -> Result<(), String> {
        let r = self.api.post(&format!("/containers/{}/start", escape(name)), None, QUICK_MS)?;
        // 304: already started.
        if r.is_success() || r.status == 304 { Ok(()) } else { Err(failed(&format!("starting container {name}"), &r)) }
    }

    /// Asks the container to stop, giving it `grace_s` seconds before the engine kills it.
    pub fn stop(&self, name: &str, grace_s: u64) -> Result<(), String> {
        let r = self.api.post(&format!("/containers/{}/stop?t={grace_s}", escape(name)), None, (grace_s + 10) * 1000)?;
        if r.is_success() || matches!(r.status, 304 | 404) { Ok(()) } else { Err(failed(&format!("stopping container {name}"), &r)) }
    }

    pub fn kill(&self, name: &str) -> Result<(), String> {
        let r = self.api.post(&format!("/containers/{}/kill", escape(name)), None, QUICK_MS)?;
        // 409: not running any more, which is what a kill wants.
        if r.is_success() || matches!(r.status, 404 | 409) { Ok(()) } else { Err(failed(&format!("killing container {name}"), &r)) }
    }

    pub fn remove(&self, name: &str) -> Result<(), String> {
        let r = self.api.delete(&format!("/containers/{}?force=true", escape(name)), QUICK_MS)?;
        if r.is_success() || r.status == 404 { Ok(()) } else { Err(failed(&format!("removing container {name}"), &r)) }
    }

    /// Runs `cmd` inside the running container and waits for it: exit code and output.
    pub fn exec(&self, name: &str, cmd: &[String]) -> Result<(i64, String), String> {
        let body = json!({"Cmd": cmd, "AttachStdout": true, "AttachStderr": true});
        let r = self.api.post(&format!("/containers/{}/exec", escape(name)), Some(&body), QUICK_MS)?;
        if !r.is_success() {
            return Err(failed(&format!("exec in container {name}"), &r));
        }
        let id = r.json()?["Id"].as_str().ok_or("exec create answered without an Id")?.to_string();
        // Attached: the engine streams the output and closes the connection when it ends.
        let started = self.api.post(&format!("/exec/{id}/start"), Some(&json!({"Detach": false, "Tty": false})), clock::remaining_ms())?;
        if !started.is_success() {
            return Err(failed(&format!("starting exec in container {name}"), &started));
        }
        let output = demux(&started.body);
        let info = self.api.get(&format!("/exec/{id}/json"), QUICK_MS)?;
        if !info.is_success() {
            return Err(failed("reading the exec's exit code", &info));
        }
        let code = info.json()?["ExitCode"].as_i64().ok_or("the exec's exit code is missing")?;
        Ok((code, output))
    }
}

/// The text of an attached, non-TTY stream: frames of an 8-byte header (stream, 0, 0, 0,
/// big-endian length) and payload, stdout and stderr interleaved.
fn demux(mut raw: &[u8]) -> String {
    let mut out = Vec::new();
    while raw.len() >= 8 {
        let len = u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
        let end = (8 + len).min(raw.len());
        out.extend_from_slice(&raw[8..end]);
        raw = &raw[end..];
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn demuxes_frames() {
        let mut raw = vec![1, 0, 0, 0, 0, 0, 0, 3];
        raw.extend_from_slice(b"ok\n");
        raw.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
        raw.extend_from_slice(b"bad\n");
        assert_eq!(super::demux(&raw), "ok\nbad\n");
    }
}
