//! Turning the scheduler's graph into a transition the executors can run: each resource action
//! gets its agent, parameters, timeout and expected result from the configuration.

use std::collections::{BTreeMap, HashMap};

use atrium_cib::status::rc;
use atrium_cib::{Cib, Configuration, Primitive, Resource, Role, nv_flatten};
use atrium_scheduler::{ActionKind, Schedule};

use super::transition::{Step, StepKind, StepState, Transition};

/// Operation timeout when neither the operation nor op_defaults name one (Pacemaker's default).
const DEFAULT_TIMEOUT_MS: u64 = 20_000;

/// The transition for `schedule`, computed from `cib` (already with templates resolved or
/// not: this resolves them). Ids and terms are filled in when the cluster applies it.
pub fn transition(cib: &Cib, schedule: &Schedule, dc: &str, generation: u64, pe_input: Option<u64>, now_ms: u64) -> Transition {
    let config = cib.configuration.with_templates_resolved();
    let primitives = Primitives::of(&config);
    let mut steps: Vec<Step> = schedule
        .graph
        .actions
        .iter()
        .map(|a| {
            let kind = match &a.kind {
                ActionKind::Resource => StepKind::Resource,
                ActionKind::Pseudo => StepKind::Pseudo,
                ActionKind::Fence { action } => StepKind::Fence { action: action.clone() },
                ActionKind::Shutdown => StepKind::Shutdown,
                ActionKind::ClearFailcount => StepKind::ClearFailcount,
            };
            let rsc = a.rsc.as_deref().map(str::to_string);
            let mut step = Step {
                id: a.id,
                kind,
                rsc: rsc.clone(),
                instance: rsc.clone(),
                task: a.task.to_string(),
                interval_ms: a.interval_ms,
                node: a.node.as_deref().map(str::to_string),
                via: None,
                agent: None,
                params: BTreeMap::new(),
                meta: BTreeMap::new(),
                timeout_ms: DEFAULT_TIMEOUT_MS,
                target_rc: rc::OK,
                state: if a.runnable { StepState::Pending } else { StepState::Blocked },
            };
            if let Some(rsc) = &rsc {
                step.instance = Some(instance_name(&primitives, rsc));
                if step.kind == StepKind::Resource {
                    fill_resource_step(&mut step, &config, &primitives, cib, rsc);
                }
            }
            step
        })
        .collect();
    name_migration_peers(&mut steps);
    crate::remote::routing::assign_via(&mut steps, schedule, &config);
    let mut edges = schedule.graph.edges.clone();
    // The DC leaves last, so the others' shutdowns are recorded while it still leads.
    let shutdowns: Vec<&Step> = steps.iter().filter(|s: &&Step| s.kind == StepKind::Shutdown).collect();
    if let Some(dc_shutdown) = shutdowns.iter().find(|s| s.node.as_deref() == Some(dc)) {
        edges.extend(shutdowns.iter().filter(|s| s.id != dc_shutdown.id).map(|s| (s.id, dc_shutdown.id)));
    }
    Transition::new(dc.to_string(), generation, pe_input, now_ms, steps, edges)
}

/// A migration's two halves each learn the other node, as Pacemaker's migrate_source and
/// migrate_target meta values: migrate_to needs its target, migrate_from its source.
fn name_migration_peers(steps: &mut [Step]) {
    let pairs: Vec<(String, String, String)> = steps
        .iter()
        .filter(|s| s.task == "migrate_to")
        .filter_map(|to| {
            let from = steps.iter().find(|s| s.task == "migrate_from" && s.rsc == to.rsc)?;
            Some((to.rsc.clone()?, to.node.clone()?, from.node.clone()?))
        })
        .collect();
    for (rsc, source, target) in pairs {
        for s in steps.iter_mut().filter(|s| s.rsc.as_deref() == Some(rsc.as_str()) && s.task.starts_with("migrate_")) {
            s.meta.insert("migrate_source".into(), source.clone());
            s.meta.insert("migrate_target".into(), target.clone());
        }
    }
}

/// The CIB as the scheduler must see it: with this partition's quorum and DC, which the
/// replicated copy does not hold (each node has its own view of them).
pub fn scheduler_input(cib: &Cib, quorate: bool, dc_id: Option<u64>) -> Cib {
    let mut input = cib.clone();
    input.have_quorum = quorate;
    input.dc_uuid = dc_id.map(|id| id.to_string());
    input
}

/// Does the graph hold anything a node must do (beyond markers, or actions that cannot run)?
pub fn has_work(t: &Transition) -> bool {
    let mut probe = t.clone();
    probe.block_unreachable();
    probe.steps.iter().any(|s| s.state == StepState::Pending && s.kind != StepKind::Pseudo)
}

fn fill_resource_step(step: &mut Step, config: &Configuration, primitives: &Primitives, cib: &Cib, rsc: &str) {
    // Clone instances are named `id:N`; their configuration is the clone's primitive.
    let base = rsc.split(':').next().unwrap_or(rsc);
    let found = primitives.find(base);
    let primitive = found.as_ref().map(|(p, _)| *p);
    step.agent = match primitive {
        Some(p) => Some(p.agent()),
        // An orphan (no longer configured) is stopped with the agent its history names.
        None => orphan_agent(cib, step.node.as_deref(), rsc),
    };
    if let Some((p, clone)) = &found {
        step.params = nv_flatten(&p.instance_attributes, |s| s.rule.is_none());
        if let Some(c) = clone {
            let meta = nv_flatten(&c.meta_attributes, |s| s.rule.is_none());
            for (k, v) in meta {
                step.meta.insert(k.replace('-', "_"), v);
            }
        }
        let op = p.operations.iter().find(|o| o.name == step.task && o.interval_ms == step.interval_ms);
        // A probe takes the timeout of the resource's monitor, as Pacemaker's do.
        let op = op.or_else(|| if step.task == "monitor" { p.operations.iter().find(|o| o.name == "monitor") } else { None });
        let defaults = atrium_cib::nv_get(&config.op_defaults, "timeout").and_then(|t| atrium_cib::parse_duration_ms(t).ok());
        step.timeout_ms = op.and_then(|o| o.timeout_ms).or(defaults).unwrap_or(DEFAULT_TIMEOUT_MS);
        if step.task == "monitor" && step.interval_ms > 0 && op.and_then(|o| o.role) == Some(Role::Promoted) {
            step.target_rc = rc::RUNNING_PROMOTED;
        }
    }
    step.meta.insert("timeout".into(), step.timeout_ms.to_string());
    step.meta.insert("interval".into(), step.interval_ms.to_string());
    if step.task == "monitor" && step.interval_ms == 0 {
        step.target_rc = rc::NOT_RUNNING;
    }
}

/// An anonymous clone's instances (`id:N`) all go by the primitive's id.
fn instance_name(primitives: &Primitives, rsc: &str) -> String {
    match rsc.split_once(':') {
        Some((base, _)) => match primitives.find(base) {
            Some((_, Some(c))) if !atrium_cib::nv_get(&c.meta_attributes, "globally-unique").is_some_and(atrium_cib::is_true) => base.to_string(),
            _ => rsc.to_string(),
        },
        None => rsc.to_string(),
    }
}

/// The configured primitives by id, each with the clone it is in: looked up once per step, so
/// a transition of every resource costs a walk of the configuration, not one per step.
struct Primitives<'a>(HashMap<&'a str, (&'a Primitive, Option<&'a atrium_cib::Clone>)>);

impl<'a> Primitives<'a> {
    fn of(config: &'a Configuration) -> Primitives<'a> {
        fn walk<'a>(r: &'a Resource, clone: Option<&'a atrium_cib::Clone>, found: &mut Vec<(&'a Primitive, Option<&'a atrium_cib::Clone>)>) {
            match r {
                Resource::Primitive(p) => found.push((p, clone)),
                Resource::Group(g) => found.extend(g.children.iter().map(|p| (p, clone))),
                Resource::Clone(c) => walk(&c.child, Some(c), found),
                Resource::Bundle(b) => found.extend(b.primitive.iter().map(|p| (p, clone))),
            }
        }
        let mut found = Vec::new();
        for r in &config.resources {
            walk(r, None, &mut found);
        }
        let mut by_id = HashMap::new();
        for (p, clone) in found {
            // Of two primitives with one id (an invalid configuration), the first counts.
            by_id.entry(p.id.as_str()).or_insert((p, clone));
        }
        Primitives(by_id)
    }

    fn find(&self, id: &str) -> Option<(&'a Primitive, Option<&'a atrium_cib::Clone>)> {
        self.0.get(id).copied()
    }
}

fn orphan_agent(cib: &Cib, node: Option<&str>, rsc: &str) -> Option<String> {
    let state = cib.status.node_states.iter().find(|s| s.uname.as_deref() == node)?;
    let lrm = state.lrm_resources.iter().find(|l| l.id == rsc)?;
    let class = lrm.class.as_deref()?;
    let kind = lrm.agent_type.as_deref()?;
    Some(match &lrm.provider {
        Some(p) => format!("{class}:{p}:{kind}"),
        None => format!("{class}:{kind}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIB: &str = r#"<cib have-quorum="1"><configuration><crm_config>
      <cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set>
      </crm_config><nodes><node id="1" uname="n1"/></nodes><resources>
      <primitive id="web" class="wasm" provider="atrium" type="dummy">
        <instance_attributes id="web-ia"><nvpair id="web-ia-f" name="fake" value="x"/></instance_attributes>
        <operations><op id="web-mon" name="monitor" interval="10s" timeout="7s"/></operations>
      </primitive>
      <clone id="c"><meta_attributes id="c-m"><nvpair id="c-m-1" name="clone-max" value="1"/></meta_attributes>
        <primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/></clone>
      </resources><constraints/></configuration><status><node_state id="1" uname="n1" in_ccm="true"
      crmd="online" join="member" expected="member"/></status></cib>"#;

    #[test]
    fn steps_carry_agent_params_timeouts_and_expected_results() {
        let cib = Cib::from_xml(CIB).unwrap();
        let schedule = atrium_scheduler::schedule(&cib, 0);
        let t = transition(&cib, &schedule, "n1", 4, Some(9), 123);
        assert!(has_work(&t));
        let find = |key: &str| t.steps.iter().find(|s| s.key() == key).unwrap_or_else(|| panic!("no {key} in {:?}", t.steps.iter().map(Step::key).collect::<Vec<_>>()));
        let probe = find("web_monitor_0");
        assert_eq!((probe.target_rc, probe.timeout_ms), (7, 7_000));
        let start = find("web_start_0");
        assert_eq!(start.agent.as_deref(), Some("wasm:atrium:dummy"));
        assert_eq!(start.params.get("fake").map(String::as_str), Some("x"));
        assert_eq!(start.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(find("web_monitor_10000").timeout_ms, 7_000);
        let clone_start = find("d:0_start_0");
        assert_eq!(clone_start.agent.as_deref(), Some("ocf:heartbeat:Dummy"));
        assert_eq!(clone_start.instance.as_deref(), Some("d"), "anonymous clone instances go by the primitive's id");
        assert_eq!(start.instance.as_deref(), Some("web"));
        assert_eq!(clone_start.meta.get("clone_max").map(String::as_str), Some("1"));
        assert_eq!((t.generation, t.pe_input, t.created_ms), (4, Some(9), 123));
    }
}
