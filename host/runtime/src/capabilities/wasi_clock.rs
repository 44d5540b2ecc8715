//! WASI's monotonic clock with every wait capped at the action's deadline.
//!
//! The epoch deadline only interrupts guest code. A guest that sleeps through WASI
//! (`std::thread::sleep` compiles to a monotonic-clock subscription and a blocking poll) waits
//! inside the host, where no epoch check runs; so the subscriptions are replaced by ones that
//! end at the deadline at the latest, after which the guest's next instructions trap.

use crate::host_state::HostState;
use std::time::{Duration, Instant};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::HostMonotonicClock;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

/// The WASI version wasmtime-wasi 48 defines; guests importing older 0.2.x versions resolve
/// to it.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// The store's monotonic clock: nanoseconds since the store was created. Kept in the host
/// state too, so `subscribe-instant` can turn an instant into a wait.
#[derive(Clone, Copy)]
pub struct StoreClock {
    pub start: Instant,
}

impl HostMonotonicClock for StoreClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

struct CappedSleep(tokio::time::Instant);

#[async_trait::async_trait]
impl Pollable for CappedSleep {
    async fn ready(&mut self) {
        tokio::time::sleep_until(self.0).await
    }
}

fn capped_sleep(mut store: StoreContextMut<'_, HostState>, wait: Duration) -> wasmtime::Result<(Resource<DynPollable>,)> {
    let wait = wait.min(store.data().remaining());
    let until = tokio::time::Instant::now() + wait;
    let table = store.data_mut().table();
    let sleep = table.push(CappedSleep(until))?;
    Ok((subscribe(table, sleep)?,))
}

/// Replaces WASI's clock subscriptions (already linked) with capped ones.
pub fn cap_waits(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap("subscribe-duration", |store: StoreContextMut<'_, HostState>, (ns,): (u64,)| {
        capped_sleep(store, Duration::from_nanos(ns))
    })?;
    clock.func_wrap("subscribe-instant", |store: StoreContextMut<'_, HostState>, (when,): (u64,)| {
        let now = store.data().clock.now();
        capped_sleep(store, Duration::from_nanos(when.saturating_sub(now)))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}
