//! The messages nodes exchange, and the registry of connections to peers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use atrium_transport::{ClusterKey, Identity};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use crate::forward::{ForwardError, ForwardReply, ForwardRequest};
use crate::liveness::{LeaseAck, LeaseBeat};
use crate::rpc::Client;
use crate::state::ReplicatedState;
use crate::two_node::PeerState;
use crate::types::{NodeId, TypeConfig};

#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub(crate) enum Request<S: ReplicatedState> {
    AppendEntries(AppendEntriesRequest<TypeConfig<S>>),
    Vote(VoteRequest<NodeId>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig<S>>),
    Forward(ForwardRequest<S::Command>),
    Lease(LeaseBeat),
    /// Two-node mode: is the peer there, and is it leading?
    Probe,
}

#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub(crate) enum Reply<S: ReplicatedState> {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    Forward(Result<ForwardReply<S::Response>, ForwardError>),
    Lease(LeaseAck),
    Probe(PeerState),
}

impl<S: ReplicatedState> Reply<S> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Reply::AppendEntries(_) => "append-entries",
            Reply::Vote(_) => "vote",
            Reply::InstallSnapshot(_) => "install-snapshot",
            Reply::Forward(_) => "forward",
            Reply::Lease(_) => "lease",
            Reply::Probe(_) => "probe",
        }
    }
}

pub(crate) type PeerClient<S> = Client<Request<S>, Reply<S>>;

/// One client (one connection) per peer, shared by Raft replication, elections, forwarded
/// requests and lease heartbeats. openraft asks for a client on every heartbeat, so this
/// must be a cheap lookup.
pub(crate) struct Peers<S: ReplicatedState> {
    key: ClusterKey,
    identity: Identity,
    clients: Mutex<HashMap<NodeId, Arc<PeerClient<S>>>>,
}

impl<S: ReplicatedState> Peers<S> {
    pub(crate) fn new(key: ClusterKey, identity: Identity) -> Self {
        Self {
            key,
            identity,
            clients: Mutex::default(),
        }
    }

    /// The client for `id` at `addr`; a new one if the member's address changed.
    pub(crate) fn client(&self, id: NodeId, addr: &str) -> Arc<PeerClient<S>> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        match clients.get(&id) {
            Some(client) if client.addr() == addr => Arc::clone(client),
            _ => {
                let client = Arc::new(Client::new(
                    addr.to_owned(),
                    self.key.clone(),
                    self.identity.clone(),
                ));
                clients.insert(id, Arc::clone(&client));
                client
            }
        }
    }
}
