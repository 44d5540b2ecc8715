//! The CLI's side of the HTTP API: where the cluster is (`client.json` in the data directory,
//! written by every node and by `atrium up`) and authenticated JSON requests to it.

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use atrium_cluster::ClusterKey;

use crate::api::API_TOKEN_PURPOSE;
use crate::api::types::ErrorReply;
use crate::daemon::node_config::NodeConfig;

pub const CLIENT_FILE: &str = "client.json";

/// How long one API call may take before the next node is tried.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A node cut off the network drops the connection attempt silently: try the next one soon.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// API addresses of the nodes, tried in order.
    pub endpoints: Vec<String>,
    pub key_file: PathBuf,
}

impl ClientConfig {
    pub fn for_node(config: &NodeConfig) -> ClientConfig {
        // This node first: it answers even when the others are gone.
        let mut endpoints = vec![config.api.clone()];
        endpoints.extend(config.members.iter().filter(|m| m.id != config.id).map(|m| m.api.clone()));
        let key_file = std::path::absolute(&config.key_file).unwrap_or_else(|_| config.key_file.clone());
        ClientConfig { endpoints, key_file }
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(CLIENT_FILE);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    pub fn read(dir: &Path) -> Result<ClientConfig> {
        let path = dir.join(CLIENT_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("no cluster found: {} is missing (start one with `atrium up`, or pass --data-dir of a node)", path.display())
        })?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a valid client file", path.display()))
    }
}

/// An API error the server answered with.
#[derive(Debug, thiserror::Error)]
#[error("{node}: {message}")]
pub struct ApiError {
    pub node: String,
    pub status: StatusCode,
    pub message: String,
}

pub struct Client {
    config: ClientConfig,
    token: String,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client> {
        let key = ClusterKey::load(&config.key_file).with_context(|| format!("cluster key {}", config.key_file.display()))?;
        Ok(Client { token: key.derive_token(API_TOKEN_PURPOSE), config })
    }

    pub fn from_data_dir(dir: &Path) -> Result<Client> {
        Client::new(ClientConfig::read(dir)?)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.call(Method::POST, path, Some(serde_json::to_vec(body)?)).await
    }

    /// A text resource only some nodes have (a DC's saved scheduler input): every node is
    /// asked until one has it.
    pub async fn find_text(&self, path: &str) -> Result<String> {
        let bytes = self.search(Method::GET, path, None, |_| true).await?;
        String::from_utf8(bytes.to_vec()).context("the reply is not UTF-8")
    }

    async fn call<T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<T> {
        // A node catching up after a restart refuses reads: another node answers for it.
        let catching_up = |status| method == Method::GET && status == StatusCode::SERVICE_UNAVAILABLE;
        let bytes = self.search(method.clone(), path, body, catching_up).await?;
        serde_json::from_slice(&bytes).with_context(|| format!("reading the reply to {path}"))
    }

    /// Tries each node in turn until one answers with success, or with an error that
    /// `try_next` does not pass on to the next node.
    async fn search(&self, method: Method, path: &str, body: Option<Vec<u8>>, try_next: impl Fn(StatusCode) -> bool) -> Result<Bytes> {
        let mut failures = Vec::new();
        for endpoint in &self.config.endpoints {
            match tokio::time::timeout(REQUEST_TIMEOUT, self.once(endpoint, method.clone(), path, body.clone())).await {
                Ok(Ok((status, bytes))) if status.is_success() => return Ok(bytes),
                Ok(Ok((status, bytes))) => {
                    let message = serde_json::from_slice::<ErrorReply>(&bytes).map(|e| e.error).unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
                    if !try_next(status) {
                        return Err(ApiError { node: endpoint.clone(), status, message }.into());
                    }
                    failures.push(format!("{endpoint}: {message}"));
                }
                Ok(Err(e)) => failures.push(format!("{endpoint}: {e:#}")),
                Err(_) => failures.push(format!("{endpoint}: no answer within {REQUEST_TIMEOUT:?}")),
            }
        }
        bail!("no node answered {path}: {}", failures.join("; "))
    }

    async fn once(&self, endpoint: &str, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<(StatusCode, Bytes)> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(endpoint))
            .await
            .map_err(|_| anyhow!("connecting: no answer within {} s", CONNECT_TIMEOUT.as_secs()))?
            .context("connecting")?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, endpoint)
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| anyhow!("building the request: {e}"))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }
}
