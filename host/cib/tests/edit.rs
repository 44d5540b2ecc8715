//! Configuration edits with the ids Pacemaker's tools write, cleanup of operation history and
//! fail counts, and the diff and summary of two configurations.

use atrium_cib::edit::*;
use atrium_cib::{Cib, Configuration, Constraint, Location, NvSet, Primitive, Resource, Role, Score, Status};

const CIB: &str = r##"<cib admin_epoch="0" epoch="12" num_updates="3" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="true"/>
        <nvpair id="cib-bootstrap-options-cluster-name" name="cluster-name" value="atrium"/>
      </cluster_property_set>
    </crm_config>
    <nodes>
      <node id="1" uname="node1"/>
      <node id="2" uname="node2">
        <instance_attributes id="nodes-2">
          <nvpair id="nodes-2-site" name="site" value="east"/>
        </instance_attributes>
      </node>
    </nodes>
    <resources>
      <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">
        <instance_attributes id="vip-instance_attributes">
          <nvpair id="vip-instance_attributes-ip" name="ip" value="192.0.2.10"/>
        </instance_attributes>
      </primitive>
      <group id="web">
        <primitive id="web-fs" class="ocf" provider="heartbeat" type="Filesystem"/>
        <primitive id="web-server" class="ocf" provider="heartbeat" type="apache">
          <meta_attributes id="web-server-options">
            <nvpair id="web-server-options-stickiness" name="resource-stickiness" value="100"/>
          </meta_attributes>
        </primitive>
      </group>
      <clone id="db-clone">
        <meta_attributes id="db-clone-meta_attributes">
          <nvpair id="db-clone-meta_attributes-promotable" name="promotable" value="true"/>
        </meta_attributes>
        <primitive id="db" class="ocf" provider="pacemaker" type="Stateful"/>
      </clone>
    </resources>
    <constraints>
      <rsc_colocation id="vip-with-web" rsc="vip" with-rsc="web" score="INFINITY"/>
      <rsc_location id="cli-ban-web-on-node2" rsc="web" role="Started" node="node2" score="-INFINITY"/>
      <rsc_location id="cli-ban-web-fs-on-node1" rsc="web-fs" role="Started" node="node1" score="-INFINITY"/>
    </constraints>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
      <transient_attributes id="1">
        <instance_attributes id="status-1">
          <nvpair id="status-1-fail-count-db.monitor_11000" name="fail-count-db#monitor_11000" value="3"/>
          <nvpair id="status-1-last-failure-db.monitor_11000" name="last-failure-db#monitor_11000" value="1700000000"/>
          <nvpair id="status-1-fail-count-web-fs.start_0" name="fail-count-web-fs#start_0" value="INFINITY"/>
          <nvpair id="status-1-pingd" name="pingd" value="100"/>
        </instance_attributes>
      </transient_attributes>
      <lrm id="1">
        <lrm_resources>
          <lrm_resource id="vip" class="ocf" provider="heartbeat" type="IPaddr2">
            <lrm_rsc_op id="vip_last_0" operation="start" interval="0" rc-code="0" op-status="0" call-id="4"/>
          </lrm_resource>
          <lrm_resource id="web-fs" class="ocf" provider="heartbeat" type="Filesystem">
            <lrm_rsc_op id="web-fs_last_failure_0" operation="start" interval="0" rc-code="1" op-status="0" call-id="6"/>
          </lrm_resource>
          <lrm_resource id="db:0" class="ocf" provider="pacemaker" type="Stateful">
            <lrm_rsc_op id="db_last_0" operation="promote" interval="0" rc-code="0" op-status="0" call-id="9"/>
            <lrm_rsc_op id="db_last_failure_0" operation="monitor" interval="11000" rc-code="7" op-status="0" call-id="10"/>
          </lrm_resource>
          <lrm_resource id="db-extra" class="ocf" provider="heartbeat" type="Dummy">
            <lrm_rsc_op id="db-extra_last_0" operation="stop" interval="0" rc-code="0" op-status="0" call-id="3"/>
          </lrm_resource>
        </lrm_resources>
      </lrm>
    </node_state>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member">
      <transient_attributes id="2">
        <instance_attributes id="status-2">
          <nvpair id="status-2-fail-count-db.1.monitor_10000" name="fail-count-db:1#monitor_10000" value="1"/>
          <nvpair id="status-2-last-failure-db.1.monitor_10000" name="last-failure-db:1#monitor_10000" value="1700000100"/>
          <nvpair id="status-2-fail-count-db-extra" name="fail-count-db-extra" value="1"/>
        </instance_attributes>
      </transient_attributes>
      <lrm id="2">
        <lrm_resources>
          <lrm_resource id="db:1" class="ocf" provider="pacemaker" type="Stateful">
            <lrm_rsc_op id="db_last_0" operation="start" interval="0" rc-code="0" op-status="0" call-id="7"/>
          </lrm_resource>
          <lrm_resource id="web-server" class="ocf" provider="heartbeat" type="apache">
            <lrm_rsc_op id="web-server_last_0" operation="start" interval="0" rc-code="0" op-status="0" call-id="8"/>
          </lrm_resource>
        </lrm_resources>
      </lrm>
    </node_state>
  </status>
</cib>"##;

fn cib() -> Cib {
    Cib::from_xml(CIB).unwrap()
}

fn config() -> Configuration {
    cib().configuration
}

/// `[set id, nvpair id, value]` of every nvpair named `name`.
fn occurrences(sets: &[NvSet], name: &str) -> Vec<[String; 3]> {
    sets.iter()
        .flat_map(|s| {
            s.pairs.iter().filter(|p| p.name == name).map(|p| {
                [
                    s.id.clone().unwrap_or_default(),
                    p.id.clone().unwrap_or_default(),
                    p.value.clone().unwrap_or_default(),
                ]
            })
        })
        .collect()
}

fn meta<'a>(cfg: &'a Configuration, id: &str) -> &'a [NvSet] {
    fn walk<'a>(r: &'a Resource, id: &str) -> Option<&'a [NvSet]> {
        match r {
            _ if r.id() == id => Some(r.meta_attributes()),
            Resource::Group(g) => g.children.iter().find(|p| p.id == id).map(|p| p.meta_attributes.as_slice()),
            Resource::Clone(c) => walk(&c.child, id),
            _ => None,
        }
    }
    cfg.resources.iter().find_map(|r| walk(r, id)).unwrap()
}

fn location<'a>(cfg: &'a Configuration, id: &str) -> Option<&'a Location> {
    cfg.constraints.iter().find_map(|c| match c {
        Constraint::Location(l) if l.id == id => Some(l),
        _ => None,
    })
}

fn constraint_ids(cfg: &Configuration) -> Vec<&str> {
    cfg.constraints.iter().map(Constraint::id).collect()
}

fn node_attributes<'a>(cfg: &'a Configuration, uname: &str) -> &'a [NvSet] {
    &cfg.nodes.iter().find(|n| n.uname == uname).unwrap().attributes
}

fn with_config(cfg: Configuration) -> Cib {
    Cib { configuration: cfg, ..Cib::default() }
}

#[test]
fn set_property_updates_in_place_or_adds_to_the_bootstrap_set() {
    let mut cfg = config();
    set_property(&mut cfg, "stonith-enabled", "false").unwrap();
    set_property(&mut cfg, "maintenance-mode", "true").unwrap();
    assert_eq!(cfg.crm_config.len(), 1);
    assert_eq!(
        occurrences(&cfg.crm_config, "stonith-enabled"),
        [["cib-bootstrap-options", "cib-bootstrap-options-stonith-enabled", "false"]]
    );
    assert_eq!(
        occurrences(&cfg.crm_config, "maintenance-mode"),
        [["cib-bootstrap-options", "cib-bootstrap-options-maintenance-mode", "true"]]
    );
    let opts = with_config(cfg).options();
    assert!(!opts.fencing_enabled);
    assert!(opts.maintenance_mode);
}

#[test]
fn set_property_uses_the_set_that_has_it_and_creates_the_bootstrap_set() {
    let xml = r#"<cib><configuration><crm_config>
        <cluster_property_set id="site-options"><nvpair id="so-1" name="no-quorum-policy" value="stop"/></cluster_property_set>
      </crm_config><nodes/><resources/><constraints/></configuration></cib>"#;
    let mut cfg = Cib::from_xml(xml).unwrap().configuration;
    set_property(&mut cfg, "no-quorum-policy", "freeze").unwrap();
    assert_eq!(occurrences(&cfg.crm_config, "no-quorum-policy"), [["site-options", "so-1", "freeze"]]);
    assert_eq!(cfg.crm_config.len(), 1, "no new set for an option that is already set");

    // A name that is not an XML name character by character is sanitized in the id only.
    set_property(&mut cfg, "my option", "1").unwrap();
    assert_eq!(cfg.crm_config.len(), 2);
    assert_eq!(cfg.crm_config[1].id.as_deref(), Some("cib-bootstrap-options"));
    assert_eq!(
        occurrences(&cfg.crm_config, "my option"),
        [["cib-bootstrap-options", "cib-bootstrap-options-my.option", "1"]]
    );
    assert_eq!(Cib::from_xml(&with_config(cfg.clone()).to_xml()).unwrap().configuration, cfg);
}

#[test]
fn set_property_refuses_an_option_set_twice() {
    let xml = r#"<cib><configuration><crm_config>
        <cluster_property_set id="a"><nvpair id="a-1" name="stonith-enabled" value="true"/></cluster_property_set>
        <cluster_property_set id="b"><nvpair id="b-1" name="stonith-enabled" value="false"/></cluster_property_set>
      </crm_config><nodes/><resources/><constraints/></configuration></cib>"#;
    let mut cfg = Cib::from_xml(xml).unwrap().configuration;
    let before = cfg.clone();
    let err = set_property(&mut cfg, "stonith-enabled", "true").unwrap_err();
    assert_eq!(
        err,
        EditError::DuplicateProperty { name: "stonith-enabled".into(), ids: vec!["a-1".into(), "b-1".into()] }
    );
    assert_eq!(err.to_string(), r#"cluster property "stonith-enabled" is set more than once (nvpairs a-1, b-1)"#);
    assert_eq!(cfg, before);
}

#[test]
fn unset_property_removes_the_option_and_keeps_the_set() {
    let mut cfg = config();
    assert!(unset_property(&mut cfg, "stonith-enabled"));
    assert!(!unset_property(&mut cfg, "stonith-enabled"));
    assert!(occurrences(&cfg.crm_config, "stonith-enabled").is_empty());
    assert_eq!(occurrences(&cfg.crm_config, "cluster-name").len(), 1);
    assert!(unset_property(&mut cfg, "cluster-name"));
    assert_eq!(cfg.crm_config.len(), 1);
    assert!(cfg.crm_config[0].pairs.is_empty());
}

#[test]
fn resource_meta_goes_into_rsc_meta_attributes() {
    let mut cfg = config();
    // An existing nvpair is updated where it is, keeping its id.
    set_resource_meta(&mut cfg, "web-server", "resource-stickiness", "200").unwrap();
    assert_eq!(
        occurrences(meta(&cfg, "web-server"), "resource-stickiness"),
        [["web-server-options", "web-server-options-stickiness", "200"]]
    );
    // A new one goes into RSC-meta_attributes, created beside the existing set.
    set_target_role(&mut cfg, "web-server", Role::Stopped).unwrap();
    let ids: Vec<_> = meta(&cfg, "web-server").iter().map(|s| s.id.as_deref().unwrap()).collect();
    assert_eq!(ids, ["web-server-options", "web-server-meta_attributes"]);
    assert_eq!(
        occurrences(meta(&cfg, "web-server"), "target-role"),
        [["web-server-meta_attributes", "web-server-meta_attributes-target-role", "Stopped"]]
    );

    set_target_role(&mut cfg, "web", Role::Stopped).unwrap();
    assert_eq!(
        occurrences(meta(&cfg, "web"), "target-role"),
        [["web-meta_attributes", "web-meta_attributes-target-role", "Stopped"]]
    );
    set_target_role(&mut cfg, "web", Role::Started).unwrap();
    assert_eq!(
        occurrences(meta(&cfg, "web"), "target-role"),
        [["web-meta_attributes", "web-meta_attributes-target-role", "Started"]]
    );

    set_resource_meta(&mut cfg, "db-clone", "clone-max", "2").unwrap();
    assert_eq!(meta(&cfg, "db-clone").len(), 1);
    assert_eq!(
        occurrences(meta(&cfg, "db-clone"), "clone-max"),
        [["db-clone-meta_attributes", "db-clone-meta_attributes-clone-max", "2"]]
    );
    set_resource_meta(&mut cfg, "db", "migration-threshold", "3").unwrap();
    assert_eq!(
        occurrences(meta(&cfg, "db"), "migration-threshold"),
        [["db-meta_attributes", "db-meta_attributes-migration-threshold", "3"]]
    );
    set_target_role(&mut cfg, "vip", Role::Promoted).unwrap();
    assert_eq!(
        occurrences(meta(&cfg, "vip"), "target-role"),
        [["vip-meta_attributes", "vip-meta_attributes-target-role", "Promoted"]]
    );

    let xml = with_config(cfg.clone()).to_xml();
    assert!(xml.contains(r#"<meta_attributes id="web-meta_attributes">"#), "{xml}");
    assert!(
        xml.contains(r#"<nvpair id="web-meta_attributes-target-role" name="target-role" value="Started"/>"#),
        "{xml}"
    );
    assert_eq!(Cib::from_xml(&xml).unwrap().configuration, cfg);
}

#[test]
fn resource_meta_errors_leave_the_configuration_alone() {
    let mut cfg = config();
    let before = cfg.clone();
    let err = set_target_role(&mut cfg, "nosuch", Role::Stopped).unwrap_err();
    assert_eq!(err, EditError::UnknownResource("nosuch".into()));
    assert_eq!(err.to_string(), r#"no resource "nosuch" in the configuration"#);
    // Instances are not resources of the configuration.
    assert_eq!(set_target_role(&mut cfg, "db:0", Role::Stopped), Err(EditError::UnknownResource("db:0".into())));
    assert_eq!(cfg, before);

    set_resource_meta(&mut cfg, "web-server", "target-role", "Started").unwrap();
    let Resource::Group(g) = &mut cfg.resources[1] else { panic!() };
    g.children[1].meta_attributes[0].pairs.push(atrium_cib::NvPair {
        id: Some("dup".into()),
        name: "target-role".into(),
        value: Some("Stopped".into()),
    });
    let before = cfg.clone();
    let err = set_target_role(&mut cfg, "web-server", Role::Started).unwrap_err();
    assert_eq!(
        err,
        EditError::DuplicateMeta {
            rsc: "web-server".into(),
            name: "target-role".into(),
            ids: vec!["dup".into(), "web-server-meta_attributes-target-role".into()],
        }
    );
    assert!(err.to_string().contains(r#"resource "web-server""#));
    assert_eq!(cfg, before);
}

#[test]
fn move_prefers_the_node_replacing_the_previous_move() {
    let mut cfg = config();
    move_resource(&mut cfg, "web", "node2", None).unwrap();
    // The ban from the destination is lifted; other constraints stay.
    assert_eq!(constraint_ids(&cfg), ["vip-with-web", "cli-ban-web-fs-on-node1", "cli-prefer-web"]);
    let prefer = location(&cfg, "cli-prefer-web").unwrap();
    assert_eq!(
        *prefer,
        Location {
            id: "cli-prefer-web".into(),
            rsc: Some("web".into()),
            role: Some(Role::Started),
            node: Some("node2".into()),
            score: Some(Score::INFINITY),
            ..Default::default()
        }
    );
    let xml = with_config(cfg.clone()).to_xml();
    assert!(
        xml.contains(r#"<rsc_location id="cli-prefer-web" rsc="web" role="Started" node="node2" score="INFINITY"/>"#)
    );

    // Node names are matched ignoring case and written as configured.
    move_resource(&mut cfg, "web", "NODE1", None).unwrap();
    assert_eq!(constraint_ids(&cfg), ["vip-with-web", "cli-ban-web-fs-on-node1", "cli-prefer-web"]);
    assert_eq!(location(&cfg, "cli-prefer-web").unwrap().node.as_deref(), Some("node1"));
}

#[test]
fn move_promoted_uses_the_promotable_clone() {
    let mut cfg = config();
    move_resource(&mut cfg, "db", "node2", Some(Role::Promoted)).unwrap();
    assert!(location(&cfg, "cli-prefer-db").is_none());
    let prefer = location(&cfg, "cli-prefer-db-clone").unwrap();
    assert_eq!(
        (prefer.rsc.as_deref(), prefer.role, prefer.node.as_deref()),
        (Some("db-clone"), Some(Role::Promoted), Some("node2"))
    );

    // Without the Promoted role the member itself moves.
    move_resource(&mut cfg, "db", "node1", None).unwrap();
    let prefer = location(&cfg, "cli-prefer-db").unwrap();
    assert_eq!(
        (prefer.rsc.as_deref(), prefer.role, prefer.node.as_deref()),
        (Some("db"), Some(Role::Started), Some("node1"))
    );

    // A resource that cannot be promoted moves as Started.
    move_resource(&mut cfg, "vip", "node2", Some(Role::Promoted)).unwrap();
    assert_eq!(location(&cfg, "cli-prefer-vip").unwrap().role, Some(Role::Started));
}

#[test]
fn move_errors_leave_the_configuration_alone() {
    let mut cfg = config();
    let before = cfg.clone();
    assert_eq!(move_resource(&mut cfg, "nosuch", "node1", None), Err(EditError::UnknownResource("nosuch".into())));
    let err = move_resource(&mut cfg, "web", "node3", None).unwrap_err();
    assert_eq!(err, EditError::UnknownNode("node3".into()));
    assert_eq!(err.to_string(), r#"no node "node3" in the configuration"#);
    let err = move_resource(&mut cfg, "web", "node1", Some(Role::Stopped)).unwrap_err();
    assert_eq!(err, EditError::UnsupportedRole { rsc: "web".into(), role: Role::Stopped });
    assert!(err.to_string().contains(r#"resource "web""#));
    assert_eq!(cfg, before);
}

#[test]
fn ban_adds_or_replaces_cli_ban() {
    let mut cfg = config();
    ban_resource(&mut cfg, "vip", "node1", None).unwrap();
    assert_eq!(constraint_ids(&cfg).last(), Some(&"cli-ban-vip-on-node1"));
    let ban = location(&cfg, "cli-ban-vip-on-node1").unwrap();
    assert_eq!(
        (ban.rsc.as_deref(), ban.role, ban.node.as_deref(), ban.score),
        (Some("vip"), Some(Role::Started), Some("node1"), Some(Score::NEG_INFINITY))
    );
    let xml = with_config(cfg.clone()).to_xml();
    assert!(xml.contains(
        r#"<rsc_location id="cli-ban-vip-on-node1" rsc="vip" role="Started" node="node1" score="-INFINITY"/>"#
    ));

    // Banning again replaces the constraint where it is.
    ban_resource(&mut cfg, "web", "node2", Some(Role::Promoted)).unwrap();
    assert_eq!(
        constraint_ids(&cfg),
        ["vip-with-web", "cli-ban-web-on-node2", "cli-ban-web-fs-on-node1", "cli-ban-vip-on-node1"]
    );
    assert_eq!(location(&cfg, "cli-ban-web-on-node2").unwrap().role, Some(Role::Promoted));

    ban_resource(&mut cfg, "web-server", "Node2", None).unwrap();
    assert_eq!(location(&cfg, "cli-ban-web-server-on-node2").unwrap().node.as_deref(), Some("node2"));

    let before = cfg.clone();
    assert_eq!(ban_resource(&mut cfg, "nosuch", "node1", None), Err(EditError::UnknownResource("nosuch".into())));
    assert_eq!(ban_resource(&mut cfg, "vip", "node9", None), Err(EditError::UnknownNode("node9".into())));
    assert_eq!(
        ban_resource(&mut cfg, "vip", "node1", Some(Role::Unpromoted)),
        Err(EditError::UnsupportedRole { rsc: "vip".into(), role: Role::Unpromoted })
    );
    assert_eq!(cfg, before);
}

#[test]
fn clear_removes_the_resources_cli_constraints() {
    let mut cfg = config();
    move_resource(&mut cfg, "web", "node1", None).unwrap();
    ban_resource(&mut cfg, "web", "node1", None).unwrap();
    let moved_and_banned = cfg.clone();
    assert_eq!(
        constraint_ids(&cfg),
        ["vip-with-web", "cli-ban-web-on-node2", "cli-ban-web-fs-on-node1", "cli-prefer-web", "cli-ban-web-on-node1"]
    );

    // Given a node: its ban, and the preference only if it is for that node.
    assert_eq!(clear_resource(&mut cfg, "web", Some("node2")), Ok(1));
    assert_eq!(
        constraint_ids(&cfg),
        ["vip-with-web", "cli-ban-web-fs-on-node1", "cli-prefer-web", "cli-ban-web-on-node1"]
    );
    assert_eq!(clear_resource(&mut cfg, "web", Some("node1")), Ok(2));
    assert_eq!(constraint_ids(&cfg), ["vip-with-web", "cli-ban-web-fs-on-node1"]);
    assert_eq!(clear_resource(&mut cfg, "web", Some("node1")), Ok(0));

    // Without a node: all of them, but not those of the group's members, nor those of a
    // resource whose id merely starts like the ban ids.
    let mut cfg = moved_and_banned;
    cfg.resources.push(Resource::Primitive(Primitive {
        id: "web-on-a".into(),
        class: "ocf".into(),
        provider: Some("heartbeat".into()),
        agent_type: "Dummy".into(),
        ..Default::default()
    }));
    ban_resource(&mut cfg, "web-on-a", "node1", None).unwrap();
    assert_eq!(clear_resource(&mut cfg, "web", None), Ok(3));
    assert_eq!(constraint_ids(&cfg), ["vip-with-web", "cli-ban-web-fs-on-node1", "cli-ban-web-on-a-on-node1"]);

    let before = cfg.clone();
    assert_eq!(clear_resource(&mut cfg, "nosuch", None), Err(EditError::UnknownResource("nosuch".into())));
    assert_eq!(clear_resource(&mut cfg, "web", Some("node7")), Err(EditError::UnknownNode("node7".into())));
    assert_eq!(cfg, before);
}

#[test]
fn clear_with_a_node_finds_a_preference_with_a_lifetime() {
    let xml = CIB.replace(
        "</constraints>",
        r##"<rsc_location id="cli-prefer-vip" rsc="vip" role="Started">
          <rule id="cli-prefer-rule-vip" score="INFINITY" boolean-op="and">
            <expression id="cli-prefer-expr-vip" attribute="#uname" operation="eq" value="node2" type="string"/>
            <date_expression id="cli-prefer-lifetime-end-vip" operation="lt" end="2030-01-01 00:00:00Z"/>
          </rule>
        </rsc_location></constraints>"##,
    );
    let mut cfg = Cib::from_xml(&xml).unwrap().configuration;
    assert_eq!(clear_resource(&mut cfg, "vip", Some("node1")), Ok(0));
    assert_eq!(clear_resource(&mut cfg, "vip", Some("node2")), Ok(1));
    assert!(location(&cfg, "cli-prefer-vip").is_none());
}

#[test]
fn node_attributes_go_into_nodes_id() {
    let mut cfg = config();
    set_node_attribute(&mut cfg, "node1", "rack", "r1").unwrap();
    assert_eq!(occurrences(node_attributes(&cfg, "node1"), "rack"), [["nodes-1", "nodes-1-rack", "r1"]]);
    set_node_attribute(&mut cfg, "node2", "site", "west").unwrap();
    assert_eq!(occurrences(node_attributes(&cfg, "node2"), "site"), [["nodes-2", "nodes-2-site", "west"]]);

    set_standby(&mut cfg, "NODE2", true).unwrap();
    assert_eq!(occurrences(node_attributes(&cfg, "node2"), "standby"), [["nodes-2", "nodes-2-standby", "on"]]);
    set_standby(&mut cfg, "node2", false).unwrap();
    assert_eq!(occurrences(node_attributes(&cfg, "node2"), "standby"), [["nodes-2", "nodes-2-standby", "off"]]);
    assert_eq!(node_attributes(&cfg, "node2").len(), 1);
    let xml = with_config(cfg.clone()).to_xml();
    assert!(xml.contains(r#"<nvpair id="nodes-2-standby" name="standby" value="off"/>"#), "{xml}");

    assert_eq!(unset_node_attribute(&mut cfg, "node2", "standby"), Ok(true));
    assert_eq!(unset_node_attribute(&mut cfg, "node2", "standby"), Ok(false));
    assert!(occurrences(node_attributes(&cfg, "node2"), "standby").is_empty());
    assert_eq!(occurrences(node_attributes(&cfg, "node2"), "site").len(), 1);

    let before = cfg.clone();
    let err = set_standby(&mut cfg, "node3", true).unwrap_err();
    assert_eq!(err, EditError::UnknownNode("node3".into()));
    assert_eq!(unset_node_attribute(&mut cfg, "node3", "site"), Err(EditError::UnknownNode("node3".into())));
    assert_eq!(cfg, before);
}

#[test]
fn node_attribute_set_twice_is_refused() {
    let mut cfg = config();
    cfg.nodes[1].attributes.push(NvSet {
        id: Some("extra".into()),
        pairs: vec![atrium_cib::NvPair { id: Some("extra-site".into()), name: "site".into(), value: Some("x".into()) }],
        ..Default::default()
    });
    let before = cfg.clone();
    let err = set_node_attribute(&mut cfg, "node2", "site", "west").unwrap_err();
    assert_eq!(
        err,
        EditError::DuplicateNodeAttribute {
            node: "node2".into(),
            name: "site".into(),
            ids: vec!["nodes-2-site".into(), "extra-site".into()],
        }
    );
    assert_eq!(cfg, before);
}

fn lrm_ids(status: &Status, node: &str) -> Vec<String> {
    let ns = status.node_states.iter().find(|n| n.uname.as_deref() == Some(node)).unwrap();
    ns.lrm_resources.iter().map(|r| r.id.clone()).collect()
}

fn transient_names(status: &Status, node: &str) -> Vec<String> {
    let ns = status.node_states.iter().find(|n| n.uname.as_deref() == Some(node)).unwrap();
    ns.transient_attributes.iter().flat_map(|s| s.pairs.iter().map(|p| p.name.clone())).collect()
}

#[test]
fn cleanup_of_a_clone_removes_its_instances_history_and_fail_counts() {
    let Cib { configuration: cfg, mut status, .. } = cib();
    assert_eq!(cleanup(&mut status, &cfg, Some("db-clone"), None), Ok(2));
    assert_eq!(lrm_ids(&status, "node1"), ["vip", "web-fs", "db-extra"]);
    assert_eq!(lrm_ids(&status, "node2"), ["web-server"]);
    assert_eq!(transient_names(&status, "node1"), ["fail-count-web-fs#start_0", "pingd"]);
    assert_eq!(transient_names(&status, "node2"), ["fail-count-db-extra"]);
    assert!(status.node_states[0].fail_counts().iter().all(|f| f.rsc != "db"));
    assert_eq!(cleanup(&mut status, &cfg, Some("db-clone"), None), Ok(0));

    // The clone's primitive stands for the instances too.
    let Cib { configuration: cfg, mut status, .. } = cib();
    assert_eq!(cleanup(&mut status, &cfg, Some("db"), Some("node2")), Ok(1));
    assert_eq!(lrm_ids(&status, "node1"), ["vip", "web-fs", "db:0", "db-extra"]);
    assert_eq!(lrm_ids(&status, "node2"), ["web-server"]);
    assert_eq!(transient_names(&status, "node2"), ["fail-count-db-extra"]);
    assert_eq!(transient_names(&status, "node1").len(), 4);
}

#[test]
fn cleanup_of_a_group_on_one_node() {
    let Cib { configuration: cfg, mut status, .. } = cib();
    assert_eq!(cleanup(&mut status, &cfg, Some("web"), Some("node1")), Ok(1));
    assert_eq!(lrm_ids(&status, "node1"), ["vip", "db:0", "db-extra"]);
    assert_eq!(lrm_ids(&status, "node2"), ["db:1", "web-server"], "other nodes are untouched");
    assert_eq!(
        transient_names(&status, "node1"),
        ["fail-count-db#monitor_11000", "last-failure-db#monitor_11000", "pingd"]
    );
}

#[test]
fn cleanup_of_an_orphan_everything_or_a_node() {
    let Cib { configuration: cfg, mut status, .. } = cib();
    // db-extra is in the history only; "db-extra" must not be taken for an instance of "db".
    assert_eq!(cleanup(&mut status, &cfg, Some("db-extra"), None), Ok(1));
    assert_eq!(lrm_ids(&status, "node1"), ["vip", "web-fs", "db:0"]);
    assert_eq!(transient_names(&status, "node2"), ["fail-count-db:1#monitor_10000", "last-failure-db:1#monitor_10000"]);

    assert_eq!(cleanup(&mut status, &cfg, None, Some("Node2")), Ok(2));
    assert!(lrm_ids(&status, "node2").is_empty());
    assert!(transient_names(&status, "node2").is_empty());
    assert_eq!(lrm_ids(&status, "node1").len(), 3);

    assert_eq!(cleanup(&mut status, &cfg, None, None), Ok(3));
    assert_eq!(transient_names(&status, "node1"), ["pingd"]);
}

#[test]
fn cleanup_errors_leave_the_status_alone() {
    let Cib { configuration: cfg, mut status, .. } = cib();
    let before = status.clone();
    let err = cleanup(&mut status, &cfg, Some("nosuch"), None).unwrap_err();
    assert_eq!(err, EditError::UnknownResource("nosuch".into()));
    let err = cleanup(&mut status, &cfg, Some("web"), Some("node9")).unwrap_err();
    assert_eq!(err.to_string(), r#"no node "node9" in the configuration"#);
    assert_eq!(status, before);
}

#[test]
fn existence_helpers() {
    let cfg = config();
    for id in ["vip", "web", "web-fs", "web-server", "db-clone", "db"] {
        assert!(resource_exists(&cfg, id), "{id}");
    }
    for id in ["db:0", "nosuch", "vip-with-web", "Web"] {
        assert!(!resource_exists(&cfg, id), "{id}");
    }
    assert!(node_exists(&cfg, "node1"));
    assert!(node_exists(&cfg, "Node2"));
    assert!(!node_exists(&cfg, "node3"));
    assert!(!node_exists(&cfg, "1"), "ids are not names");
}

#[test]
fn diff_shows_changed_lines_with_context() {
    let old = config();
    assert_eq!(config_diff(&old, &old.clone()), "");

    let mut new = old.clone();
    set_property(&mut new, "stonith-enabled", "false").unwrap();
    let diff = config_diff(&old, &new);
    let lines: Vec<&str> = diff.lines().collect();
    assert_eq!(lines[..3], ["--- old", "+++ new", "@@ -2,7 +2,7 @@"], "{diff}");
    let removed: Vec<&str> = lines[3..].iter().copied().filter(|l| l.starts_with('-')).collect();
    let added: Vec<&str> = lines[3..].iter().copied().filter(|l| l.starts_with('+')).collect();
    assert_eq!(
        removed,
        [r#"-        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="true"/>"#]
    );
    assert_eq!(
        added,
        [r#"+        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="false"/>"#]
    );
    assert_eq!(lines.iter().filter(|l| l.starts_with(' ')).count(), 6, "{diff}");

    let mut moved = old.clone();
    move_resource(&mut moved, "web", "node2", None).unwrap();
    let diff = config_diff(&old, &moved);
    assert!(
        diff.contains(r#"-      <rsc_location id="cli-ban-web-on-node2" rsc="web" role="Started" node="node2" score="-INFINITY"/>"#),
        "{diff}"
    );
    assert!(
        diff.contains(
            r#"+      <rsc_location id="cli-prefer-web" rsc="web" role="Started" node="node2" score="INFINITY"/>"#
        ),
        "{diff}"
    );
}

#[test]
fn summary_names_what_changed() {
    let old = config();
    assert_eq!(config_summary(&old, &old.clone()), "");

    let mut new = old.clone();
    new.resources.push(Resource::Primitive(Primitive {
        id: "mail".into(),
        class: "ocf".into(),
        provider: Some("heartbeat".into()),
        agent_type: "MailTo".into(),
        ..Default::default()
    }));
    set_resource_meta(&mut new, "db-clone", "clone-max", "2").unwrap();
    move_resource(&mut new, "web", "node2", None).unwrap();
    set_property(&mut new, "stonith-enabled", "false").unwrap();
    set_standby(&mut new, "node1", true).unwrap();
    assert_eq!(
        config_summary(&old, &new),
        "resources: +mail, ~db-clone; constraints: +cli-prefer-web, -cli-ban-web-on-node2; \
         properties: ~stonith-enabled; nodes: ~node1"
    );

    // A member's change is its group's; removals and additions of properties by name.
    let mut new = old.clone();
    set_target_role(&mut new, "web-server", Role::Stopped).unwrap();
    new.resources.remove(0);
    unset_property(&mut new, "cluster-name");
    set_property(&mut new, "maintenance-mode", "true").unwrap();
    assert_eq!(config_summary(&old, &new), "resources: ~web, -vip; properties: +maintenance-mode, -cluster-name");

    let mut new = old.clone();
    new.resources.swap(0, 2);
    assert_eq!(config_summary(&old, &new), "resources: (rearranged)");
    assert_ne!(config_diff(&old, &new), "");
}
