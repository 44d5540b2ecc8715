//! wasi:http, linked so components whose toolchain imports it (componentize-js does) still
//! load, with every outgoing request refused. Agents reach HTTP endpoints through Atrium's own
//! `http` capability, which is allowlisted per agent.

use std::future::Future;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Hooks that refuse every request with `HTTP-request-denied`.
#[derive(Default)]
pub struct DenyAllRequests;

type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;

impl WasiHttpHooks for DenyAllRequests {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _io: Io,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, Io), Error>> + Send> {
        tracing::warn!(uri = %request.uri(), "wasi:http request refused: agents reach HTTP through the allowlisted http capability");
        Box::new(async { Err(Error::HttpRequestDenied) })
    }
}
