//! The node's HTTP API (hyper, JSON). Every request carries `Authorization: Bearer TOKEN`, a
//! token derived from the cluster key; anything else is refused and logged.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tracing::{debug, warn};

use super::types::{ChangeReply, CleanupRequest, ConfigurationReply, EditRequest, ErrorReply, ExplainReply, FenceRequest, HistoryEntry, LoadRequest, MemberRequest};
use super::{API_TOKEN_PURPOSE, report};
use crate::daemon::cib_state::{CibCommand, CibReply};
use crate::daemon::packed::Packed;
use crate::daemon::{NodeContext, now_ms, pe_inputs::PeInputs, plan};

/// Largest request body: a configuration file of a big cluster fits with room to spare.
const MAX_BODY: usize = 16 << 20;

pub async fn serve(ctx: Arc<NodeContext>, listener: TcpListener) {
    let token = Arc::new(ctx.key.derive_token(API_TOKEN_PURPOSE));
    let mut stopping = ctx.stopping.subscribe();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "API accept failed");
                    continue;
                }
            },
            _ = stopping.changed() => return,
        };
        let ctx = Arc::clone(&ctx);
        let token = Arc::clone(&token);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let ctx = Arc::clone(&ctx);
                let token = Arc::clone(&token);
                async move { Ok::<_, std::convert::Infallible>(handle(&ctx, &token, peer, req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                debug!(%peer, error = %e, "API connection ended");
            }
        });
    }
}

type Reply = Response<Full<Bytes>>;

fn json<T: Serialize>(status: StatusCode, body: &T) -> Reply {
    let bytes = serde_json::to_vec(body).expect("API replies always serialise");
    Response::builder().status(status).header(CONTENT_TYPE, "application/json").body(Full::new(Bytes::from(bytes))).expect("a valid response")
}

fn error(status: StatusCode, message: impl Into<String>) -> Reply {
    json(status, &ErrorReply { error: message.into() })
}

fn authorised(req: &Request<Incoming>, token: &str) -> bool {
    let Some(given) = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")) else {
        return false;
    };
    // Compare without an early exit, so the time taken says nothing about the token.
    given.len() == token.len() && given.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

async fn body<T: serde::de::DeserializeOwned>(req: Request<Incoming>) -> Result<T, Reply> {
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| error(StatusCode::PAYLOAD_TOO_LARGE, format!("request body: {e}")))?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| error(StatusCode::BAD_REQUEST, format!("request body: {e}")))
}

fn query_param(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
}

async fn handle(ctx: &NodeContext, token: &str, peer: SocketAddr, req: Request<Incoming>) -> Reply {
    if !authorised(&req, token) {
        warn!(%peer, path = %req.uri().path(), "API request refused: missing or wrong token");
        return error(StatusCode::UNAUTHORIZED, "missing or wrong API token (derived from the cluster key)");
    }
    // A node still replaying its log after a restart would show the past.
    if req.method() == Method::GET && !*ctx.joined.borrow() {
        return error(StatusCode::SERVICE_UNAVAILABLE, format!("{} is catching up with the cluster", ctx.name));
    }
    let path: Vec<String> = req.uri().path().trim_matches('/').split('/').map(str::to_string).collect();
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match (req.method().clone(), path.as_slice()) {
        (Method::GET, ["v1", "status"]) => {
            let (cib, transition) = ctx.cluster.read(|s| (s.cib.clone(), s.transition.clone()));
            json(StatusCode::OK, &report::build(&ctx.name, &cib, &ctx.cluster.status(), transition.as_ref(), now_ms()))
        }
        (Method::GET, ["v1", "cib"]) => {
            let xml = ctx.cluster.read(|s| s.cib.to_xml());
            Response::builder().header(CONTENT_TYPE, "application/xml").body(Full::new(Bytes::from(xml))).expect("a valid response")
        }
        (Method::GET, ["v1", "configuration"]) => {
            let (epoch, configuration) = ctx.cluster.read(|s| (s.cib.epoch, s.cib.configuration.clone()));
            let xml = configuration.to_xml();
            match atrium_crm::cib_to_crm(&xml) {
                Ok(crm) => json(StatusCode::OK, &ConfigurationReply { epoch, xml, crm }),
                Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("rendering crm syntax: {e}")),
            }
        }
        (Method::POST, ["v1", "configuration"]) => match body::<LoadRequest>(req).await {
            Ok(load) => match crate::config_file::parse(&load.text, &load.name) {
                Ok(cib) => {
                    let command = CibCommand::LoadConfiguration { configuration: Packed::pack(&cib.configuration), actor: load.actor, at_ms: now_ms() };
                    change(ctx, command).await
                }
                Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")),
            },
            Err(r) => r,
        },
        (Method::POST, ["v1", "edit"]) => match body::<EditRequest>(req).await {
            Ok(e) => change(ctx, CibCommand::Edit { edit: e.edit, actor: e.actor, at_ms: now_ms() }).await,
            Err(r) => r,
        },
        (Method::POST, ["v1", "cleanup"]) => match body::<CleanupRequest>(req).await {
            Ok(c) => change(ctx, CibCommand::Cleanup { rsc: c.rsc, node: c.node, actor: c.actor, at_ms: now_ms() }).await,
            Err(r) => r,
        },
        (Method::GET, ["v1", "configuration", "history"]) => {
            let limit = query_param(&req, "limit").and_then(|l| l.parse().ok()).unwrap_or(50);
            match ctx.db.config_history().list(None, limit).await {
                Ok(list) => json(
                    StatusCode::OK,
                    &list
                        .into_iter()
                        .map(|c| HistoryEntry { version: c.version, actor: actor_name(&c.actor), at_ms: c.at_ms, summary: c.summary, diff: None })
                        .collect::<Vec<_>>(),
                ),
                Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        (Method::GET, ["v1", "configuration", "history", version]) => {
            let Ok(version) = version.parse::<u64>() else { return error(StatusCode::BAD_REQUEST, format!("version {version:?} is not a number")) };
            match ctx.db.config_history().get(version).await {
                Ok(Some(c)) => json(StatusCode::OK, &HistoryEntry { version, actor: actor_name(&c.actor), at_ms: c.at_ms, summary: c.summary, diff: Some(c.diff) }),
                Ok(None) => error(StatusCode::NOT_FOUND, format!("no configuration version {version} in this node's history")),
                Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        (Method::GET, ["v1", "resources", rsc, "explain"]) => explain(ctx, rsc),
        (Method::POST, ["v1", "fence"]) => match body::<FenceRequest>(req).await {
            Ok(f) => change(ctx, CibCommand::RequestFence { target: f.target, action: f.action, actor: f.actor, at_ms: now_ms() }).await,
            Err(r) => r,
        },
        (Method::GET, ["v1", "fence", "history"]) => json(StatusCode::OK, &ctx.cluster.read(|s| s.fence_history.clone())),
        (Method::POST, ["v1", "members"]) => match body::<MemberRequest>(req).await {
            Ok(m) => match ctx.cluster.add_member(m.id, m.name.clone(), m.addr.clone()).await {
                Ok(()) => json(StatusCode::OK, &ChangeReply { epoch: ctx.cluster.read(|s| s.cib.epoch), summary: format!("{} ({}) added as a voter", m.name, m.addr) }),
                Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, format!("adding {}: {e}", m.name)),
            },
            Err(r) => r,
        },
        (Method::POST, ["v1", "members", name, "remove"]) => remove_member(ctx, name).await,
        (Method::GET, ["v1", "pe-inputs", n]) => {
            let Ok(n) = n.parse::<u64>() else { return error(StatusCode::BAD_REQUEST, format!("{n:?} is not a number")) };
            let path = PeInputs::path(&NodeContext::pe_input_dir(&ctx.data_dir), n);
            match std::fs::read_to_string(&path) {
                Ok(xml) => Response::builder().header(CONTENT_TYPE, "application/xml").body(Full::new(Bytes::from(xml))).expect("a valid response"),
                Err(_) => error(StatusCode::NOT_FOUND, format!("{} has no pe-input-{n}", ctx.name)),
            }
        }
        _ => error(StatusCode::NOT_FOUND, format!("no such API call: {} {}", req.method(), req.uri().path())),
    }
}

/// Takes a node out of the voters (it may be stopped for good) and out of the membership.
async fn remove_member(ctx: &NodeContext, name: &str) -> Reply {
    let Some(id) = ctx.cluster.status().members.iter().find(|(_, m)| m.name == name).map(|(id, _)| *id) else {
        return error(StatusCode::NOT_FOUND, format!("{name} is not a cluster member"));
    };
    if let Err(e) = ctx.cluster.remove_member(id).await {
        return error(StatusCode::UNPROCESSABLE_ENTITY, format!("removing {name}: {e}"));
    }
    change(ctx, CibCommand::NodesLost { nodes: vec![name.to_string()], at_ms: now_ms() }).await
}

fn actor_name(actor: &atrium_db::Actor) -> String {
    match actor {
        atrium_db::Actor::User(u) => u.clone(),
        atrium_db::Actor::Node(n) => format!("node:{n}"),
    }
}

async fn change(ctx: &NodeContext, command: CibCommand) -> Reply {
    match ctx.propose(command).await {
        Ok(CibReply::Ok { epoch, summary, .. }) => json(StatusCode::OK, &ChangeReply { epoch, summary }),
        Ok(CibReply::Rejected { reason }) => error(StatusCode::UNPROCESSABLE_ENTITY, reason),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, format!("the cluster did not take the change: {e}")),
    }
}

fn explain(ctx: &NodeContext, rsc: &str) -> Reply {
    let (cib, known) = ctx.cluster.read(|s| (s.cib.clone(), atrium_cib::edit::resource_exists(&s.cib.configuration, rsc)));
    if !known {
        return error(StatusCode::NOT_FOUND, format!("no resource {rsc:?} is configured"));
    }
    let status = ctx.cluster.status();
    let cib = plan::scheduler_input(&cib, status.quorate, status.dc());
    let schedule = atrium_scheduler::schedule(&cib, (now_ms() / 1000) as i64);
    let belongs = |id: &str| id == rsc || id.split(':').next() == Some(rsc);
    let active_on = cib
        .status
        .node_states
        .iter()
        .filter(|n| n.crmd_online())
        .filter(|n| {
            n.lrm_resources.iter().any(|l| belongs(&l.id) && l.ops.iter().max_by_key(|o| o.call_id).is_some_and(|o| !(o.operation == "stop" || o.rc_code == 7)))
        })
        .filter_map(|n| n.uname.clone())
        .collect();
    let placement = schedule.assignments.iter().filter(|a| belongs(&a.rsc)).map(|a| (a.rsc.clone(), a.node.clone(), a.role.as_str().to_string())).collect();
    let scores = schedule
        .scores
        .iter()
        .filter(|s| belongs(&s.rsc))
        .flat_map(|s| s.scores.iter().map(move |(n, v)| (s.rsc.clone(), n.clone(), v.to_string())))
        .collect();
    let explanation = schedule.explanations.iter().find(|e| e.rsc == rsc).map(|e| e.render());
    json(StatusCode::OK, &ExplainReply { rsc: rsc.to_string(), active_on, placement, scores, explanation })
}
