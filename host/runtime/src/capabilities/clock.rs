use crate::bindings::atrium::agent::clock::Host;
use crate::host_state::HostState;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

impl Host for HostState {
    fn now_ms(&mut self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }

    fn remaining_ms(&mut self) -> u64 {
        self.remaining().as_millis() as u64
    }

    /// Sleeps at most until the action's deadline, so a sleeping agent still times out on time.
    fn sleep_ms(&mut self, ms: u64) -> bool {
        let wanted = Duration::from_millis(ms);
        let allowed = wanted.min(self.remaining());
        std::thread::sleep(allowed);
        allowed == wanted
    }
}
