//! One wasmtime engine per process: pooling allocator, epoch interruption driven by a ticker
//! thread, optional fuel, and the on-disk component cache.

use crate::cache::ComponentCache;
use crate::error::RuntimeError;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; the resolution of action deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Runtime-wide settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components are cached.
    pub cache_dir: PathBuf,
    /// Largest linear memory any agent may have (bounds the pool's slots).
    pub max_memory: usize,
    /// Actions that may run at the same time (pool slots).
    pub max_instances: u32,
    /// Deterministic instruction budget per action instead of wall-clock only (tests).
    pub fuel: Option<u64>,
}

impl RuntimeConfig {
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        RuntimeConfig { cache_dir: cache_dir.into(), max_memory: 256 << 20, max_instances: 256, fuel: None }
    }
}

struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The shared engine and cache. Cheap to clone.
#[derive(Clone)]
pub struct AgentEngine {
    pub(crate) engine: Engine,
    pub(crate) cache: ComponentCache,
    pub(crate) config: Arc<RuntimeConfig>,
    _ticker: Arc<Ticker>,
}

fn pooling(config: &RuntimeConfig) -> PoolingAllocationConfig {
    let mut p = PoolingAllocationConfig::default();
    let n = config.max_instances;
    p.total_component_instances(n)
        .total_core_instances(n * 8)
        .total_memories(n * 2)
        .total_tables(n * 8)
        .max_memory_size(config.max_memory)
        // Keeping a little memory resident and resetting only dirtied pages (PAGEMAP_SCAN,
        // Linux >= 6.7) makes a fresh store per action cost microseconds.
        .linear_memory_keep_resident(256 << 10)
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto);
    p
}

fn base_config(config: &RuntimeConfig) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true).epoch_interruption(true).consume_fuel(config.fuel.is_some());
    // Agents are small; reserving their maximum memory rather than 4 GiB per slot keeps the
    // pool's address-space reservation modest when many node processes share a machine.
    c.memory_reservation(config.max_memory as u64).memory_reservation_for_growth(0).memory_guard_size(32 << 20);
    c
}

impl AgentEngine {
    pub fn new(config: RuntimeConfig) -> Result<AgentEngine, RuntimeError> {
        let mut c = base_config(&config);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(&config)));
        let engine = match Engine::new(&c) {
            Ok(e) => e,
            Err(err) => {
                // The pool reserves address space up front; where that is refused (small
                // address spaces, strict overcommit) fall back to on-demand allocation.
                tracing::warn!("pooling allocator unavailable ({err:#}); using on-demand allocation");
                Engine::new(&base_config(&config)).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.clone();
        let ticker_stop = stop.clone();
        std::thread::Builder::new()
            .name("atrium-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| RuntimeError::Engine(format!("starting the epoch ticker: {e}")))?;
        let cache = ComponentCache::new(config.cache_dir.clone(), &engine);
        Ok(AgentEngine { engine, cache, config: Arc::new(config), _ticker: Arc::new(Ticker { stop }) })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Epoch ticks covering `timeout`, plus one so a deadline is never early.
    pub(crate) fn deadline_ticks(timeout: Duration) -> u64 {
        (timeout.as_millis() / EPOCH_TICK.as_millis()) as u64 + 1
    }
}
