//! openraft's state machine: applies committed entries to the [`ReplicatedState`] and turns
//! it into snapshots (stored through [`Storage`]) and back.

use std::io::Cursor;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine, Snapshot};
use openraft::{EntryPayload, OptionalSend};

use crate::error::ClusterError;
use crate::state::{ApplyContext, ReplicatedState};
use crate::storage::Storage;
use crate::types::{
    Entry, LogId, SnapshotMeta, StorageError, StorageIOError, StoredMembership, TypeConfig,
};

/// The state shared between the state machine and the cluster handle's local reads.
pub(crate) type SharedState<S> = Arc<RwLock<S>>;

/// A panic inside `apply` stops the Raft core (the node is then fatally failed and says so
/// in its status); reads may still look at the state it left.
pub(crate) fn read_state<S>(state: &RwLock<S>) -> RwLockReadGuard<'_, S> {
    state.read().unwrap_or_else(|e| e.into_inner())
}

fn write_state<S>(state: &RwLock<S>) -> RwLockWriteGuard<'_, S> {
    state.write().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct StateMachine<S> {
    state: SharedState<S>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    storage: Storage,
}

impl<S: ReplicatedState> StateMachine<S> {
    /// Restores the latest stored snapshot, if any, into `state`; openraft then re-applies
    /// the log entries after it.
    pub(crate) async fn open(mut state: S, storage: Storage) -> Result<Self, ClusterError> {
        let mut last_applied = None;
        let mut membership = StoredMembership::default();
        if let Some(stored) = storage.snapshot().await? {
            let meta: SnapshotMeta = serde_json::from_value(stored.meta)
                .map_err(|e| ClusterError::Corrupt(format!("snapshot metadata: {e}")))?;
            state
                .restore(&stored.data)
                .map_err(|e| ClusterError::Restore(e.to_string()))?;
            last_applied = meta.last_log_id;
            membership = meta.last_membership;
        }
        Ok(Self {
            state: Arc::new(RwLock::new(state)),
            last_applied,
            membership,
            storage,
        })
    }

    pub(crate) fn shared_state(&self) -> SharedState<S> {
        Arc::clone(&self.state)
    }
}

fn to_db_snapshot(meta: &SnapshotMeta, data: Vec<u8>) -> Result<atrium_db::Snapshot, StorageError> {
    let meta_json = serde_json::to_value(meta)
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
    Ok(atrium_db::Snapshot {
        meta: meta_json,
        data,
    })
}

impl<S: ReplicatedState> RaftStateMachine<TypeConfig<S>> for StateMachine<S> {
    type SnapshotBuilder = SnapshotBuilder<S>;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Option<S::Response>>, StorageError>
    where
        I: IntoIterator<Item = Entry<S>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut state = write_state(&self.state);
        let mut responses = Vec::new();
        for entry in entries {
            self.last_applied = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Blank => None,
                EntryPayload::Normal(command) => {
                    let ctx = ApplyContext {
                        index: entry.log_id.index,
                        term: entry.log_id.leader_id.term,
                    };
                    Some(state.apply(&command, ctx))
                }
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    None
                }
            };
            responses.push(response);
        }
        Ok(responses)
    }

    /// Captures the state now, under the read lock, so the snapshot is consistent with
    /// `last_applied` even though openraft builds it while applying goes on.
    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let data = read_state(&self.state).snapshot();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let index = self.last_applied.map_or(0, |id| id.index);
        SnapshotBuilder {
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.membership.clone(),
                snapshot_id: format!("{index}-{nanos}"),
            },
            data,
            storage: self.storage.clone(),
            _state: PhantomData,
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        write_state(&self.state)
            .restore(&data)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        let stored = to_db_snapshot(meta, data)?;
        self.storage
            .save_snapshot(&stored)
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e).into())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig<S>>>, StorageError> {
        let Some(stored) = self
            .storage
            .snapshot()
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?
        else {
            return Ok(None);
        };
        let meta: SnapshotMeta = serde_json::from_value(stored.meta)
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}

/// A snapshot captured by `get_snapshot_builder`, persisted when openraft asks for it.
pub(crate) struct SnapshotBuilder<S> {
    meta: SnapshotMeta,
    data: Vec<u8>,
    storage: Storage,
    _state: PhantomData<fn() -> S>,
}

impl<S: ReplicatedState> RaftSnapshotBuilder<TypeConfig<S>> for SnapshotBuilder<S> {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig<S>>, StorageError> {
        let stored = to_db_snapshot(&self.meta, self.data.clone())?;
        self.storage
            .save_snapshot(&stored)
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(self.meta.signature()), &e))?;
        Ok(Snapshot {
            meta: self.meta.clone(),
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}
