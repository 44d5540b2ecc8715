//! openraft's log storage (entries, vote, committed id) on top of [`Storage`].

use std::fmt::Debug;
use std::marker::PhantomData;
use std::ops::RangeBounds;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{CommittedLeaderId, OptionalSend};

use crate::state::ReplicatedState;
use crate::storage::Storage;
use crate::types::{Entry, LogId, NodeId, StorageError, StorageIOError, TypeConfig, Vote};

/// Entries are stored as the JSON of the whole openraft entry (log id and payload), so
/// membership entries round-trip and the stored bytes are readable when debugging.
pub(crate) struct LogStore<S> {
    storage: Storage,
    _state: PhantomData<fn() -> S>,
}

impl<S> Clone for LogStore<S> {
    fn clone(&self) -> Self {
        Self::new(self.storage.clone())
    }
}

impl<S> LogStore<S> {
    pub(crate) fn new(storage: Storage) -> Self {
        Self {
            storage,
            _state: PhantomData,
        }
    }
}

pub(crate) fn to_db_log_id(id: &LogId) -> atrium_db::LogId {
    atrium_db::LogId {
        index: id.index,
        term: id.leader_id.term,
    }
}

/// With `single-term-leader` a committed leader id is the term alone; the node id argument is
/// ignored.
pub(crate) fn from_db_log_id(id: atrium_db::LogId) -> LogId {
    openraft::LogId::new(CommittedLeaderId::new(id.term, NodeId::default()), id.index)
}

impl<S: ReplicatedState> RaftLogReader<TypeConfig<S>> for LogStore<S> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<S>>, StorageError> {
        let rows = self
            .storage
            .entries(range)
            .await
            .map_err(|e| StorageIOError::read_logs(&e))?;
        rows.iter()
            .map(|row| {
                serde_json::from_slice(&row.payload)
                    .map_err(|e| StorageIOError::read_logs(&e).into())
            })
            .collect()
    }
}

impl<S: ReplicatedState> RaftLogStorage<TypeConfig<S>> for LogStore<S> {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig<S>>, StorageError> {
        let state = self
            .storage
            .log_state()
            .await
            .map_err(|e| StorageIOError::read_logs(&e))?;
        Ok(LogState {
            last_purged_log_id: state.last_purged.map(from_db_log_id),
            last_log_id: state.last.map(from_db_log_id),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        // openraft only saves votes cast for a node; a vote for nobody has nothing to keep.
        let Some(node_id) = vote.leader_id.voted_for else {
            return Err(
                StorageIOError::write_vote(openraft::AnyError::error(format!(
                    "vote {vote} names no node"
                )))
                .into(),
            );
        };
        let db_vote = atrium_db::Vote {
            term: vote.leader_id.term,
            node_id,
            committed: vote.committed,
        };
        self.storage
            .save_vote(&db_vote)
            .await
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        let vote = self
            .storage
            .vote()
            .await
            .map_err(|e| StorageIOError::read_vote(&e))?;
        Ok(vote.map(|v| {
            if v.committed {
                Vote::new_committed(v.term, v.node_id)
            } else {
                Vote::new(v.term, v.node_id)
            }
        }))
    }

    /// Persisting the committed id lets a restarted node re-apply its committed entries at
    /// once, before it hears from a leader.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.storage
            .save_committed(committed.as_ref().map(to_db_log_id))
            .await
            .map_err(|e| StorageIOError::write(&e).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let committed = self
            .storage
            .committed()
            .await
            .map_err(|e| StorageIOError::read(&e))?;
        Ok(committed.map(from_db_log_id))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig<S>>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<S>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let rows = entries
            .into_iter()
            .map(|entry| {
                Ok(atrium_db::LogEntry {
                    index: entry.log_id.index,
                    term: entry.log_id.leader_id.term,
                    payload: serde_json::to_vec(&entry)
                        .map_err(|e| StorageIOError::write_logs(&e))?,
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        // Both backends are durable (or final, for memory) when `append` returns.
        let result = self.storage.append(&rows).await;
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(StorageIOError::write_logs(&e).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.storage
            .truncate_from(log_id.index)
            .await
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.storage
            .purge(to_db_log_id(&log_id))
            .await
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}

#[cfg(test)]
mod tests {
    use openraft::testing::{StoreBuilder, Suite};
    use tempfile::TempDir;

    use super::*;
    use crate::state::ApplyContext;
    use crate::state_machine::StateMachine;

    struct Counter(u64);

    impl ReplicatedState for Counter {
        type Command = u64;
        type Response = u64;
        type RestoreError = serde_json::Error;

        fn apply(&mut self, command: &u64, _: ApplyContext) -> u64 {
            self.0 += command;
            self.0
        }

        fn snapshot(&self) -> Vec<u8> {
            serde_json::to_vec(&self.0).expect("u64 serialises")
        }

        fn restore(&mut self, bytes: &[u8]) -> Result<(), serde_json::Error> {
            self.0 = serde_json::from_slice(bytes)?;
            Ok(())
        }
    }

    struct Builder {
        sqlite: bool,
    }

    fn setup_error(e: impl std::fmt::Display) -> StorageError {
        StorageIOError::write(openraft::AnyError::error(e)).into()
    }

    impl
        StoreBuilder<TypeConfig<Counter>, LogStore<Counter>, StateMachine<Counter>, Option<TempDir>>
        for Builder
    {
        async fn build(
            &self,
        ) -> Result<(Option<TempDir>, LogStore<Counter>, StateMachine<Counter>), StorageError>
        {
            let (dir, storage) = if self.sqlite {
                let dir = tempfile::tempdir().map_err(setup_error)?;
                let path = dir.path().join("raft.db");
                let storage = Storage::open(path.to_str().expect("utf-8 path"))
                    .await
                    .map_err(setup_error)?;
                (Some(dir), storage)
            } else {
                (None, Storage::memory())
            };
            let state_machine = StateMachine::open(Counter(0), storage.clone())
                .await
                .map_err(setup_error)?;
            Ok((dir, LogStore::new(storage), state_machine))
        }
    }

    #[test]
    fn memory_storage_passes_the_openraft_storage_suite() {
        Suite::test_all(Builder { sqlite: false }).expect("suite");
    }

    #[test]
    fn sqlite_storage_passes_the_openraft_storage_suite() {
        Suite::test_all(Builder { sqlite: true }).expect("suite");
    }
}
