//! JSON requests over the http capability to one endpoint (the Docker Engine's socket, a
//! REST service on loopback ...).

use crate::host::{clock, http};
use serde_json::Value;

/// An HTTP API reached at one granted endpoint, such as `unix:///var/run/docker.sock`.
#[derive(Debug, Clone)]
pub struct JsonApi {
    endpoint: String,
}

/// A response: status and raw body.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl ApiResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON; an error names the status and shows the start of the body.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let text = String::from_utf8_lossy(&self.body);
            format!("HTTP {} response is not JSON ({e}): {}", self.status, text.chars().take(200).collect::<String>())
        })
    }

    /// The server's explanation: a JSON `message` field (as the Docker Engine sends), else
    /// the body text.
    pub fn message(&self) -> String {
        let from_json = serde_json::from_slice::<Value>(&self.body).ok().and_then(|v| v["message"].as_str().map(str::to_string));
        from_json.unwrap_or_else(|| String::from_utf8_lossy(&self.body).trim().to_string())
    }
}

impl JsonApi {
    pub fn new(endpoint: impl Into<String>) -> JsonApi {
        JsonApi { endpoint: endpoint.into() }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one request; the timeout never reaches past the action's deadline. `Err` is a
    /// transport failure or a denial by the sandbox, with the host's reason.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>, timeout_ms: u64) -> Result<ApiResponse, String> {
        let mut headers = Vec::new();
        let bytes = match body {
            Some(v) => {
                headers.push(http::Header { name: "Content-Type".into(), value: "application/json".into() });
                serde_json::to_vec(v).map_err(|e| format!("encoding the request body: {e}"))?
            }
            None => Vec::new(),
        };
        let req = http::Request {
            method: method.into(),
            endpoint: self.endpoint.clone(),
            path: path.into(),
            headers,
            body: bytes,
            timeout_ms: timeout_ms.min(clock::remaining_ms()).max(1),
        };
        let resp = http::send(&req).map_err(|e| format!("{method} {path}: {e}"))?;
        Ok(ApiResponse { status: resp.status, body: resp.body })
    }

    pub fn get(&self, path: &str, timeout_ms: u64) -> Result<ApiResponse, String> {
        self.send("GET", path, None, timeout_ms)
    }

    pub fn post(&self, path: &str, body: Option<&Value>, timeout_ms: u64) -> Result<ApiResponse, String> {
        self.send("POST", path, body, timeout_ms)
    }

    pub fn delete(&self, path: &str, timeout_ms: u64) -> Result<ApiResponse, String> {
        self.send("DELETE", path, None, timeout_ms)
    }
}

/// Percent-encodes a path segment or query value (everything but RFC 3986's unreserved
/// characters).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_reserved_characters_and_reads_messages() {
        assert_eq!(escape("registry:5000/a b@x"), "registry%3A5000%2Fa%20b%40x");
        let r = ApiResponse { status: 404, body: br#"{"message":"No such container: c1"}"#.to_vec() };
        assert_eq!(r.message(), "No such container: c1");
        assert!(!r.is_success());
        let plain = ApiResponse { status: 500, body: b"boom\n".to_vec() };
        assert_eq!(plain.message(), "boom");
        assert!(plain.json().unwrap_err().contains("HTTP 500"));
    }
}
