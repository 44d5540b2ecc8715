//! The application's replicated state: what the cluster agrees on (the CIB, for Atrium).

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where an applied command sits in the log. `term` is the Raft term of the leader that
/// appended it: the fencing token executors compare to refuse work from a deposed DC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyContext {
    pub index: u64,
    pub term: u64,
}

/// A deterministic state machine replicated by the cluster. Every node applies the same
/// commands in the same order, so `apply` must depend only on the state, the command and the
/// context (no clock, no I/O, no randomness).
pub trait ReplicatedState: Send + Sync + 'static {
    type Command: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static;
    type Response: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static;
    type RestoreError: std::error::Error + Send + Sync + 'static;

    fn apply(&mut self, command: &Self::Command, ctx: ApplyContext) -> Self::Response;

    /// The whole state, to be handed to [`restore`](Self::restore) on another node or after a
    /// restart.
    fn snapshot(&self) -> Vec<u8>;

    /// Replaces the whole state with one produced by [`snapshot`](Self::snapshot).
    fn restore(&mut self, bytes: &[u8]) -> Result<(), Self::RestoreError>;
}
