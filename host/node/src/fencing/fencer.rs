//! Carrying out one fencing operation: level by level, every device of a level in turn, each
//! with its delay, retries and timeout. The first level whose devices all succeed fences the
//! target; if none does, the operation fails.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atrium_contract::{AgentError, FenceAgent, FenceRequest, PowerState};
use serde::{Deserialize, Serialize};
use tracing::{Instrument, info, info_span, warn};

use super::device::{FenceAction, FenceDevice};
use super::topology::Level;

/// A blocking agent call gets this long past its own timeout before the fencer stops waiting
/// (the agent enforces the timeout itself; this only guards against one that does not).
const CALL_GRACE: Duration = Duration::from_secs(2);

/// Pause between retries of a failed device action.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Where the fencer gets a runnable agent for a device.
pub trait DeviceAgents: Send + Sync {
    fn agent(&self, device: &FenceDevice) -> Result<Arc<dyn FenceAgent>, String>;
}

/// What one device call did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub level: u32,
    pub device: String,
    pub action: String,
    pub ok: bool,
    pub ms: u64,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceOutcome {
    pub ok: bool,
    /// The level that fenced the target.
    pub level: Option<u32>,
    pub devices: Vec<String>,
    pub attempts: Vec<Attempt>,
    pub reason: Option<String>,
}

impl FenceOutcome {
    /// Not attempted: nothing was run against the target.
    pub fn refused(reason: impl Into<String>) -> FenceOutcome {
        FenceOutcome { ok: false, level: None, devices: vec![], attempts: vec![], reason: Some(reason.into()) }
    }
}

/// One fencing request, ready to run.
pub struct FenceOperation {
    pub target: String,
    pub action: FenceAction,
    pub levels: Vec<Level>,
    pub devices: BTreeMap<String, FenceDevice>,
    /// `fencing-timeout` (`stonith-timeout`): a device action's timeout unless it sets its own.
    pub default_timeout_ms: u64,
}

impl FenceOperation {
    pub async fn run(&self, agents: &dyn DeviceAgents) -> FenceOutcome {
        let mut attempts = Vec::new();
        if self.levels.is_empty() {
            return FenceOutcome { ok: false, level: None, devices: vec![], attempts, reason: Some(format!("no fence device can {} {}", self.action, self.target)) };
        }
        let mut reasons = Vec::new();
        for level in &self.levels {
            let span = info_span!("fence_level", target = %self.target, level = level.index, devices = %level.devices.join(","));
            match self.run_level(level, agents, &mut attempts).instrument(span).await {
                Ok(()) => {
                    info!(target = %self.target, level = level.index, devices = %level.devices.join(","), "target fenced");
                    return FenceOutcome { ok: true, level: Some(level.index), devices: level.devices.clone(), attempts, reason: None };
                }
                Err(reason) => {
                    warn!(target = %self.target, level = level.index, %reason, "fencing level failed");
                    reasons.push(format!("level {}: {reason}", level.index));
                }
            }
        }
        FenceOutcome { ok: false, level: None, devices: vec![], attempts, reason: Some(reasons.join("; ")) }
    }

    async fn run_level(&self, level: &Level, agents: &dyn DeviceAgents, attempts: &mut Vec<Attempt>) -> Result<(), String> {
        for id in &level.devices {
            let device = self.devices.get(id).ok_or_else(|| format!("device {id} is not configured"))?;
            let agent = agents.agent(device).map_err(|e| format!("{id}: {e}"))?;
            let plug = device.plug_for(&self.target);
            if device.statically_covers(&self.target).is_none() {
                self.check_dynamic(device, &agent, &plug, level.index, attempts).await?;
            }
            let delay = device.delay_base_ms.for_target(&self.target) + random_below(device.delay_max_ms);
            if delay > 0 {
                info!(device = %id, delay_ms = delay, "delaying fencing");
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            let action = device.agent_action(self.action);
            self.with_retries(device, &agent, action, &plug, level.index, attempts).await?;
        }
        Ok(())
    }

    /// `dynamic-list` / `status` host checks: ask the device whether it knows the target.
    async fn check_dynamic(&self, device: &FenceDevice, agent: &Arc<dyn FenceAgent>, plug: &str, level: u32, attempts: &mut Vec<Attempt>) -> Result<(), String> {
        let check = match device.host_check {
            super::device::HostCheck::Status => FenceAction::Status,
            _ => FenceAction::List,
        };
        let timeout = Duration::from_millis(device.timeout_ms(check, self.default_timeout_ms));
        let (result, attempt) = call(device, agent, check, plug, timeout, level).await;
        attempts.push(attempt);
        match result {
            Ok(Answer::Plugs(plugs)) if plugs.iter().any(|p| p == plug) => Ok(()),
            Ok(Answer::Plugs(plugs)) => Err(format!("{} cannot fence {} (its list: {})", device.id, self.target, plugs.join(", "))),
            Ok(Answer::Power(PowerState::Unknown)) => Err(format!("{} does not know {}", device.id, self.target)),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{}: {check} failed: {e}", device.id)),
        }
    }

    async fn with_retries(&self, device: &FenceDevice, agent: &Arc<dyn FenceAgent>, action: FenceAction, plug: &str, level: u32, attempts: &mut Vec<Attempt>) -> Result<(), String> {
        let budget = Duration::from_millis(device.timeout_ms(self.action, self.default_timeout_ms));
        let began = Instant::now();
        let tries = device.retries(self.action) + 1;
        let mut last = String::new();
        for n in 1..=tries {
            let left = budget.saturating_sub(began.elapsed());
            if left.is_zero() {
                last = format!("{last} (timeout of {} ms used up)", budget.as_millis());
                break;
            }
            let (result, attempt) = call(device, agent, action, plug, left, level).await;
            attempts.push(attempt);
            match result {
                Ok(_) => return Ok(()),
                Err(e) => {
                    warn!(device = %device.id, %action, attempt = n, of = tries, error = %e, "fence device action failed");
                    last = e;
                }
            }
            if n < tries {
                tokio::time::sleep(RETRY_PAUSE.min(budget.saturating_sub(began.elapsed()))).await;
            }
        }
        Err(format!("{}: {action} {plug} failed: {last}", device.id))
    }
}

enum Answer {
    Done,
    Plugs(Vec<String>),
    Power(PowerState),
}

/// One agent call on a blocking thread, bounded by `timeout` (plus a grace for agents that
/// overrun their own deadline).
async fn call(device: &FenceDevice, agent: &Arc<dyn FenceAgent>, action: FenceAction, plug: &str, timeout: Duration, level: u32) -> (Result<Answer, String>, Attempt) {
    let request = FenceRequest { device: device.id.clone(), params: device.params.clone(), timeout };
    let agent = Arc::clone(agent);
    let plug_owned = plug.to_string();
    let began = Instant::now();
    let work = tokio::task::spawn_blocking(move || -> Result<Answer, AgentError> {
        Ok(match action {
            FenceAction::Reboot => agent.reboot(&request, &plug_owned).map(|_| Answer::Done)?,
            FenceAction::Off => agent.off(&request, &plug_owned).map(|_| Answer::Done)?,
            FenceAction::On => agent.on(&request, &plug_owned).map(|_| Answer::Done)?,
            FenceAction::Status => Answer::Power(agent.status(&request, &plug_owned)?),
            FenceAction::List => Answer::Plugs(agent.list(&request)?),
            FenceAction::Monitor => agent.monitor(&request).map(|_| Answer::Done)?,
            FenceAction::Metadata => agent.meta_data().map(|_| Answer::Done)?,
        })
    });
    let result = match tokio::time::timeout(timeout + CALL_GRACE, work).await {
        Ok(Ok(Ok(answer))) => Ok(answer),
        Ok(Ok(Err(e))) => Err(e.to_string()),
        Ok(Err(e)) => Err(format!("agent call panicked: {e}")),
        Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
    };
    let attempt = Attempt {
        level,
        device: device.id.clone(),
        action: action.to_string(),
        ok: result.is_ok(),
        ms: began.elapsed().as_millis() as u64,
        detail: match &result {
            Ok(_) => "ok".into(),
            Err(e) => e.clone(),
        },
    };
    (result, attempt)
}

/// A random delay in [0, max] (pcmk_delay_max), so two nodes do not shoot each other at once.
fn random_below(max_ms: u64) -> u64 {
    if max_ms == 0 {
        return 0;
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish() % (max_ms + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use atrium_contract::MetaData;
    use std::sync::Mutex;

    /// A device that answers from a script: per action, succeed, fail or hang.
    struct Scripted {
        behaviour: BTreeMap<&'static str, &'static str>,
        calls: Mutex<Vec<String>>,
    }

    impl Scripted {
        fn act(&self, action: &str, req: &FenceRequest) -> Result<(), AgentError> {
            self.calls.lock().unwrap().push(format!("{}:{action}", req.device));
            match self.behaviour.get(action).copied().unwrap_or("ok") {
                "ok" => Ok(()),
                "hang" => {
                    std::thread::sleep(req.timeout + Duration::from_secs(5));
                    Ok(())
                }
                "fail-once" if self.calls.lock().unwrap().iter().filter(|c| c.ends_with(action)).count() == 1 => Err(AgentError::Run { agent: "scripted".into(), detail: "first try fails".into() }),
                "fail-once" => Ok(()),
                _ => Err(AgentError::Run { agent: "scripted".into(), detail: "device said no".into() }),
            }
        }
    }

    impl FenceAgent for Scripted {
        fn name(&self) -> String {
            "scripted".into()
        }
        fn meta_data(&self) -> Result<MetaData, AgentError> {
            Err(AgentError::Run { agent: "scripted".into(), detail: "none".into() })
        }
        fn list(&self, req: &FenceRequest) -> Result<Vec<String>, AgentError> {
            self.act("list", req).map(|_| vec!["n2".to_string()])
        }
        fn status(&self, req: &FenceRequest, _: &str) -> Result<PowerState, AgentError> {
            self.act("status", req).map(|_| PowerState::On)
        }
        fn on(&self, req: &FenceRequest, _: &str) -> Result<(), AgentError> {
            self.act("on", req)
        }
        fn off(&self, req: &FenceRequest, _: &str) -> Result<(), AgentError> {
            self.act("off", req)
        }
        fn reboot(&self, req: &FenceRequest, _: &str) -> Result<(), AgentError> {
            self.act("reboot", req)
        }
        fn monitor(&self, req: &FenceRequest) -> Result<(), AgentError> {
            self.act("monitor", req)
        }
    }

    struct Agents(BTreeMap<String, Arc<Scripted>>);

    impl DeviceAgents for Agents {
        fn agent(&self, device: &FenceDevice) -> Result<Arc<dyn FenceAgent>, String> {
            self.0.get(&device.id).map(|a| Arc::clone(a) as Arc<dyn FenceAgent>).ok_or_else(|| "no agent".into())
        }
    }

    fn setup(crm: &str, behaviours: &[(&str, &[(&'static str, &'static str)])]) -> (BTreeMap<String, FenceDevice>, Agents) {
        let cfg = crate::config_file::parse(crm, "test.crm").unwrap().configuration;
        let devices = super::super::device::configured_devices(&cfg).unwrap().into_iter().map(|d| (d.id.clone(), d)).collect();
        let agents = behaviours.iter().map(|(id, b)| (id.to_string(), Arc::new(Scripted { behaviour: b.iter().copied().collect(), calls: Mutex::new(vec![]) }))).collect();
        (devices, Agents(agents))
    }

    fn op(devices: BTreeMap<String, FenceDevice>, levels: &[&[&str]]) -> FenceOperation {
        FenceOperation {
            target: "n2".into(),
            action: FenceAction::Reboot,
            levels: levels.iter().enumerate().map(|(i, l)| Level { index: i as u32 + 1, devices: l.iter().map(|d| d.to_string()).collect() }).collect(),
            devices,
            default_timeout_ms: 2_000,
        }
    }

    const CRM: &str = "primitive a stonith:x params pcmk_host_list=n2 pcmk_reboot_retries=0
primitive b stonith:x params pcmk_host_list=n2 pcmk_reboot_retries=0
primitive c stonith:x params pcmk_host_list=n2 pcmk_reboot_action=off pcmk_off_retries=0
";

    #[tokio::test]
    async fn all_devices_of_a_level_must_succeed_and_a_failed_level_falls_through() {
        let (devices, agents) = setup(CRM, &[("a", &[]), ("b", &[("reboot", "fail")]), ("c", &[])]);
        let out = op(devices, &[&["a", "b"], &["c"]]).run(&agents).await;
        assert!(out.ok, "{out:?}");
        assert_eq!(out.level, Some(2));
        let calls: Vec<String> = ["a", "b", "c"].iter().flat_map(|d| agents.0[*d].calls.lock().unwrap().clone()).collect();
        assert_eq!(calls, ["a:reboot", "b:reboot", "c:off"], "level 1 ran both devices (AND), level 2 ran c with reboot mapped to off");
        assert!(out.attempts.iter().any(|a| a.device == "b" && !a.ok));
    }

    #[tokio::test]
    async fn every_level_failing_fails_with_the_reasons() {
        let (devices, agents) = setup(CRM, &[("a", &[("reboot", "fail")]), ("c", &[("off", "fail")])]);
        let out = op(devices, &[&["a"], &["c"]]).run(&agents).await;
        assert!(!out.ok);
        let reason = out.reason.unwrap();
        assert!(reason.contains("level 1: a: reboot n2 failed: ") && reason.contains("level 2: c: off n2 failed"), "{reason}");
    }

    #[tokio::test]
    async fn retries_within_the_timeout() {
        let crm = "primitive a stonith:x params pcmk_host_list=n2 pcmk_reboot_retries=1\n";
        let (devices, agents) = setup(crm, &[("a", &[("reboot", "fail-once")])]);
        let out = op(devices, &[&["a"]]).run(&agents).await;
        assert!(out.ok, "{out:?}");
        assert_eq!(out.attempts.len(), 2);
        let (devices, agents) = setup(CRM, &[("a", &[("reboot", "fail-once")])]);
        assert!(!op(devices, &[&["a"]]).run(&agents).await.ok, "pcmk_reboot_retries=0 gives one try only");
    }

    #[tokio::test]
    async fn a_hanging_device_is_timed_out_and_the_next_level_runs() {
        let crm = "primitive a stonith:x params pcmk_host_list=n2 pcmk_reboot_timeout=300ms pcmk_reboot_retries=0\nprimitive b stonith:x params pcmk_host_list=n2\n";
        let (devices, agents) = setup(crm, &[("a", &[("reboot", "hang")]), ("b", &[])]);
        let began = Instant::now();
        let out = op(devices, &[&["a"], &["b"]]).run(&agents).await;
        assert!(out.ok && out.level == Some(2), "{out:?}");
        assert!(out.attempts[0].detail.contains("timed out after"), "{:?}", out.attempts);
        assert!(began.elapsed() < Duration::from_secs(5), "the hang was not waited out");
    }

    #[tokio::test]
    async fn delays_and_dynamic_lists() {
        let crm = "primitive a stonith:x params pcmk_delay_base=400ms\nprimitive b stonith:x params pcmk_host_check=dynamic-list\n";
        let (devices, agents) = setup(crm, &[("a", &[("list", "ok")]), ("b", &[])]);
        let began = Instant::now();
        let mut operation = op(devices.clone(), &[&["a"]]);
        assert!(operation.run(&agents).await.ok);
        assert!(began.elapsed() >= Duration::from_millis(400), "pcmk_delay_base waited");
        assert_eq!(agents.0["a"].calls.lock().unwrap().as_slice(), ["a:list", "a:reboot"], "no static list: the device's list is asked first");
        operation.target = "n9".into();
        let out = operation.run(&agents).await;
        assert!(!out.ok && out.reason.as_deref().unwrap_or("").contains("cannot fence n9"), "{out:?}");
    }
}
