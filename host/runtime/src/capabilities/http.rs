//! The http capability: HTTP/1.1 requests to allowlisted endpoints (unix sockets such as the
//! Docker Engine's, or TCP host:port). One connection per request, `Connection: close`, so
//! the response ends at EOF unless it says otherwise.

use crate::bindings::atrium::agent::http::{Header, Host, Request, Response};
use crate::host_state::HostState;
use crate::manifest::Endpoint;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Largest response body an agent may receive.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn connect(endpoint: &Endpoint, timeout: Duration) -> std::io::Result<Box<dyn Stream>> {
    match endpoint {
        Endpoint::Unix(path) => {
            let s = UnixStream::connect(path)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            Ok(Box::new(s))
        }
        Endpoint::Tcp { host, port } => {
            use std::net::ToSocketAddrs;
            let addr = (host.as_str(), *port)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))?;
            let s = TcpStream::connect_timeout(&addr, timeout)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            Ok(Box::new(s))
        }
    }
}

fn host_header(endpoint: &Endpoint) -> String {
    match endpoint {
        // Docker requires a Host header; any name will do on a unix socket.
        Endpoint::Unix(_) => "localhost".into(),
        Endpoint::Tcp { host, port } => format!("{host}:{port}"),
    }
}

/// Decodes a chunked body; `None` when it is malformed or cut short.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        let end = size.checked_add(2)?;
        if body.len() < end {
            return None;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[end..];
    }
}

pub(crate) fn send(endpoint: &Endpoint, req: &Request, timeout: Duration) -> Result<Response, String> {
    let method = req.method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("bad HTTP method '{}'", req.method));
    }
    if !req.path.starts_with('/') || req.path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(format!("bad request path '{}': it must start with / and hold no spaces or control characters", req.path));
    }
    let mut head = format!("{method} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", req.path, host_header(endpoint));
    for h in &req.headers {
        let bad = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n');
        if bad(&h.name) || bad(&h.value) || h.name.eq_ignore_ascii_case("content-length") {
            return Err(format!("header '{}' is not allowed", h.name));
        }
        head.push_str(&format!("{}: {}\r\n", h.name, h.value));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", req.body.len()));
    let mut stream = connect(endpoint, timeout).map_err(|e| format!("connecting to {endpoint}: {e}"))?;
    stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&req.body)).map_err(|e| format!("sending to {endpoint}: {e}"))?;

    let mut raw = Vec::new();
    stream.take(BODY_LIMIT as u64 + 64 * 1024).read_to_end(&mut raw).map_err(|e| format!("reading from {endpoint}: {e}"))?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let body_start = match parsed.parse(&raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(format!("{endpoint} closed the connection mid-response")),
        Err(e) => return Err(format!("{endpoint} sent a malformed response: {e}")),
    };
    let status = parsed.code.unwrap_or(0);
    let headers: Vec<Header> = parsed
        .headers
        .iter()
        .map(|h| Header { name: h.name.to_string(), value: String::from_utf8_lossy(h.value).into_owned() })
        .collect();
    let find = |name: &str| headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.trim().to_string());
    let rest = &raw[body_start..];
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest).ok_or_else(|| format!("{endpoint} sent a malformed chunked body"))?
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < len {
            return Err(format!("{endpoint} sent {} of {len} body bytes", rest.len()));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { status, headers, body })
}

impl Host for HostState {
    fn send(&mut self, req: Request) -> Result<Response, String> {
        let endpoint: Endpoint = req.endpoint.parse().map_err(|e| format!("{e}"))?;
        if !self.env.grants.http.contains(&endpoint) {
            let list: Vec<String> = self.env.grants.http.iter().map(|e| e.to_string()).collect();
            return Err(format!("http to {endpoint} denied: not on this agent's allowlist [{}]", list.join(", ")));
        }
        let timeout = Duration::from_millis(req.timeout_ms).min(self.remaining()).max(Duration::from_millis(1));
        let _g = tracing::debug_span!("http", agent = &*self.env.agent, %endpoint, method = %req.method, path = %req.path).entered();
        send(&endpoint, &req, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn dechunks_and_rejects_truncation() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n").unwrap(), b"abcde");
        assert!(dechunk(b"5\r\nab").is_none());
        assert!(dechunk(b"zz\r\n").is_none());
        assert!(dechunk(b"ffffffffffffffff\r\nab").is_none(), "a huge chunk size must not overflow");
    }

    #[test]
    fn request_over_unix_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("api.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n").unwrap();
            text
        });
        let ep = Endpoint::Unix(sock.to_string_lossy().into());
        let req = Request {
            method: "get".into(),
            endpoint: ep.to_string(),
            path: "/containers/json".into(),
            headers: vec![],
            body: vec![],
            timeout_ms: 2000,
        };
        let resp = send(&ep, &req, Duration::from_secs(2)).unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (200, &b"ok"[..]));
        let seen = server.join().unwrap();
        assert!(seen.starts_with("GET /containers/json HTTP/1.1\r\nHost: localhost\r\n"), "{seen}");
    }

    #[test]
    fn header_injection_is_refused() {
        let ep = Endpoint::Unix("/nonexistent".into());
        let req = Request {
            method: "GET".into(),
            endpoint: ep.to_string(),
            path: "/x".into(),
            headers: vec![Header { name: "X".into(), value: "a\r\nEvil: 1".into() }],
            body: vec![],
            timeout_ms: 100,
        };
        assert!(send(&ep, &req, Duration::from_millis(100)).unwrap_err().contains("not allowed"));
    }
}
