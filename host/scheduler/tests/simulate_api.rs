//! The simulate API the CLI uses: injections, explanations, text and JSON output.

use atrium_cib::Cib;
use atrium_scheduler::simulate::{simulate, SimulateError, SimulateOptions};

const CIB: &str = r#"<cib have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="o">
      <nvpair id="o1" name="stonith-enabled" value="true"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources>
      <primitive id="fence" class="stonith" type="fence_dummy"/>
      <primitive id="web" class="ocf" provider="heartbeat" type="apache">
        <operations><op id="web-mon" name="monitor" interval="10s"/></operations>
      </primitive>
    </resources>
    <constraints><rsc_location id="prefer" rsc="web" node="node1" score="100"/></constraints>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="1"><lrm_resources>
        <lrm_resource id="web" class="ocf" provider="heartbeat" type="apache">
          <lrm_rsc_op id="web_start_0" operation="start" interval="0" rc-code="0" op-status="0" call-id="3"/>
          <lrm_rsc_op id="web_monitor_10000" operation="monitor" interval="10000" rc-code="0" op-status="0" call-id="4"/>
        </lrm_resource>
        <lrm_resource id="fence" class="stonith" type="fence_dummy">
          <lrm_rsc_op id="fence_start_0" operation="start" interval="0" rc-code="0" op-status="0" call-id="2"/>
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>"#;

fn opts() -> SimulateOptions {
    SimulateOptions { now: 1_700_000_000, ..Default::default() }
}

#[test]
fn steady_state_has_nothing_to_do() {
    let cib = Cib::from_xml(CIB).unwrap();
    let r = simulate(&cib, &opts()).unwrap();
    assert!(r.summary_lines().is_empty(), "{:?}", r.summary_lines());
    // Probes on node2 only: the monitor already runs.
    assert!(r.actions.iter().all(|a| a.task == "monitor" && a.node.as_deref() == Some("node2")));
}

#[test]
fn node_failure_fences_and_moves() {
    let cib = Cib::from_xml(CIB).unwrap();
    let r = simulate(&cib, &SimulateOptions { node_fail: vec!["node1".into()], ..opts() }).unwrap();
    assert_eq!(
        r.summary_lines(),
        [
            "  * Fence (reboot) node1 'peer is no longer part of the cluster'",
            "  * Move       fence   ( node1 -> node2 )",
            "  * Move       web     ( node1 -> node2 )",
        ]
    );
    let text = r.render_text(false);
    assert!(text.contains("  * Fencing node1 (reboot)"), "{text}");
    assert!(text.contains("    * web\t(ocf:heartbeat:apache):\t Started node2"), "{text}");
}

#[test]
fn op_failure_recovers_in_place() {
    let cib = Cib::from_xml(CIB).unwrap();
    let r = simulate(&cib, &SimulateOptions { op_fail: vec!["web_monitor_10000@node1=1".into()], ..opts() }).unwrap();
    assert_eq!(r.summary_lines(), ["  * Recover    web     ( node1 )"]);
}

#[test]
fn a_missing_recurring_monitor_is_scheduled() {
    let xml = CIB.replace(r#"<lrm_rsc_op id="web_monitor_10000" operation="monitor" interval="10000" rc-code="0" op-status="0" call-id="4"/>"#, "");
    let r = simulate(&Cib::from_xml(&xml).unwrap(), &opts()).unwrap();
    assert!(r.summary_lines().is_empty());
    assert!(r.actions.iter().any(|a| a.task == "monitor" && a.interval_ms == 10_000 && a.node.as_deref() == Some("node1")));
}

#[test]
fn explanation_lists_score_sources() {
    let cib = Cib::from_xml(CIB).unwrap();
    let r = simulate(&cib, &SimulateOptions { explain: Some("web".into()), ..opts() }).unwrap();
    let e = r.explanation.expect("explanation");
    assert_eq!(e.node.as_deref(), Some("node1"));
    assert!(e.contributions.iter().any(|c| c.source == "location prefer" && c.score.value() == 100));
    assert!(e.render().contains("stays on node1"));
}

#[test]
fn json_and_errors() {
    let cib = Cib::from_xml(CIB).unwrap();
    let r = simulate(&cib, &opts()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    for key in ["current", "transition_summary", "actions", "edges", "revised", "scores"] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        simulate(&cib, &SimulateOptions { node_fail: vec!["nope".into()], ..opts() }).unwrap_err(),
        SimulateError::UnknownNode("nope".into())
    );
    assert!(matches!(
        simulate(&cib, &SimulateOptions { op_fail: vec!["garbage".into()], ..opts() }),
        Err(SimulateError::BadOpSpec(_))
    ));
}

#[test]
fn failed_start_is_fatal_for_the_node() {
    let cib = Cib::from_xml(CIB).unwrap();
    let r = simulate(&cib, &SimulateOptions { op_fail: vec!["web_start_0@node1=1".into()], ..opts() }).unwrap();
    assert_eq!(r.summary_lines(), ["  * Recover    web     ( node1 -> node2 )"]);
}

#[test]
fn colocation_by_node_attribute() {
    // web must share a site with db; db prefers node3 (site b), so web goes to node4 (site b).
    let xml = r#"<cib have-quorum="1"><configuration><crm_config><cluster_property_set id="o">
      <nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
      <nodes>
        <node id="1" uname="node1"><instance_attributes id="a1"><nvpair id="s1" name="site" value="a"/></instance_attributes></node>
        <node id="3" uname="node3"><instance_attributes id="a3"><nvpair id="s3" name="site" value="b"/></instance_attributes></node>
        <node id="4" uname="node4"><instance_attributes id="a4"><nvpair id="s4" name="site" value="b"/></instance_attributes></node>
      </nodes>
      <resources>
        <primitive id="db" class="ocf" provider="heartbeat" type="pgsql"/>
        <primitive id="web" class="ocf" provider="heartbeat" type="apache"/>
      </resources>
      <constraints>
        <rsc_location id="db-pref" rsc="db" node="node3" score="100"/>
        <rsc_colocation id="same-site" rsc="web" with-rsc="db" score="INFINITY" node-attribute="site"/>
        <rsc_colocation id="not-with" rsc="web" with-rsc="db" score="-100"/>
      </constraints></configuration><status>
      <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
      <node_state id="3" uname="node3" in_ccm="true" crmd="online" join="member" expected="member"/>
      <node_state id="4" uname="node4" in_ccm="true" crmd="online" join="member" expected="member"/>
    </status></cib>"#;
    let r = simulate(&Cib::from_xml(xml).unwrap(), &opts()).unwrap();
    assert_eq!(r.summary_lines(), ["  * Start      db      ( node3 )", "  * Start      web     ( node4 )"]);
}

#[test]
fn location_by_resource_pattern() {
    let xml = CIB.replace(
        r#"<rsc_location id="prefer" rsc="web" node="node1" score="100"/>"#,
        r#"<rsc_location id="away" rsc-pattern="^w.b$" node="node1" score="-INFINITY"/>"#,
    );
    let r = simulate(&Cib::from_xml(&xml).unwrap(), &opts()).unwrap();
    assert_eq!(r.summary_lines(), ["  * Move       web     ( node1 -> node2 )"]);
}

#[test]
fn template_based_primitives_are_scheduled() {
    let xml = CIB.replace(
        r#"<primitive id="fence" class="stonith" type="fence_dummy"/>"#,
        r#"<template id="dummy-t" class="ocf" provider="pacemaker" type="Dummy"/>
           <primitive id="fence" class="stonith" type="fence_dummy"/>
           <primitive id="extra" template="dummy-t"/>"#,
    );
    let r = simulate(&Cib::from_xml(&xml).unwrap(), &opts()).unwrap();
    assert_eq!(r.summary_lines(), ["  * Start      extra   ( node2 )"]);
    assert!(r.render_text(false).contains("extra\t(ocf:pacemaker:Dummy):\t Started node2"));
}

#[test]
fn ordering_loops_are_reported() {
    let xml = CIB
        .replace(
            r#"<constraints><rsc_location id="prefer" rsc="web" node="node1" score="100"/></constraints>"#,
            r#"<constraints>
                 <rsc_order id="o1" first="a1" then="a2" kind="Mandatory"/>
                 <rsc_order id="o2" first="a2" then="a1" kind="Optional"/>
               </constraints>"#,
        )
        .replace(
            r#"<primitive id="fence" class="stonith" type="fence_dummy"/>"#,
            r#"<primitive id="fence" class="stonith" type="fence_dummy"/>
               <primitive id="a1" class="ocf" provider="pacemaker" type="Dummy"/>
               <primitive id="a2" class="ocf" provider="pacemaker" type="Dummy"/>"#,
        );
    let r = simulate(&Cib::from_xml(&xml).unwrap(), &opts()).unwrap();
    let looped: Vec<String> = r.ordering_loop.iter().map(|a| a.key()).collect();
    assert!(looped.contains(&"a1_start_0".to_string()) && looped.contains(&"a2_start_0".to_string()), "{looped:?}");
    assert!(r.render_text(false).contains("Transition failed: ordering loop"));
    // Without the loop the graph is valid.
    let r = simulate(&Cib::from_xml(CIB).unwrap(), &opts()).unwrap();
    assert!(r.ordering_loop.is_empty());
    assert!(r.dot.starts_with(" digraph \"g\" {"));
}

#[test]
fn orphans_are_stopped() {
    let xml = CIB.replace(
        r#"<lrm_resource id="fence" class="stonith" type="fence_dummy">"#,
        r#"<lrm_resource id="ghost" class="ocf" provider="heartbeat" type="IPaddr2">
          <lrm_rsc_op id="ghost_start_0" operation="start" interval="0" rc-code="0" op-status="0" call-id="5"/>
        </lrm_resource>
        <lrm_resource id="fence" class="stonith" type="fence_dummy">"#,
    );
    let r = simulate(&Cib::from_xml(&xml).unwrap(), &opts()).unwrap();
    assert_eq!(r.summary_lines(), ["  * Stop       ghost   ( node1 )  due to node availability"]);
    let text = r.render_text(false);
    assert!(text.contains("ghost\t(ocf:heartbeat:IPaddr2):\t ORPHANED Started node1"), "{text}");
    assert!(!text.split("Revised Cluster Status:").nth(1).unwrap().contains("ghost"));
    let kept = xml.replace(r#"value="true"/>"#, r#"value="true"/><nvpair id="o2" name="stop-orphan-resources" value="false"/>"#);
    assert!(simulate(&Cib::from_xml(&kept).unwrap(), &opts()).unwrap().summary_lines().is_empty());
}
