//! crm -> XML -> crm -> XML round trips, the seed as printed on the slides, and merging
//! into a CIB document.

mod common;

use atrium_crm::{
    CrmConfig, EMPTY_CIB, Statement, from_xml, merge_into_cib, parse, to_crm, to_xml,
};
use common::generate;

/// XML from `text`, then crm from that XML, then XML again: both XML texts must agree,
/// and the crm printed from the second reading must be stable.
fn assert_round_trip(text: &str, label: &str) {
    let first = parse(text, label).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let xml1 = to_xml(&first);
    let shown = to_crm(&from_xml(&xml1).unwrap_or_else(|e| panic!("{label}: {e}\n{xml1}")));
    let second = parse(&shown, "shown.crm")
        .unwrap_or_else(|e| panic!("{label}: shown text does not parse: {e}\n{shown}"));
    let xml2 = to_xml(&second);
    assert_eq!(
        xml1, xml2,
        "{label}: XML changed after crm -> XML -> crm -> XML\n--- crm shown\n{shown}"
    );
    assert_eq!(
        to_crm(&from_xml(&xml2).unwrap()),
        shown,
        "{label}: shown crm is not stable"
    );
}

#[test]
fn seed_round_trips() {
    assert_round_trip(
        include_str!("fixtures/seed_complete.crm"),
        "seed_complete.crm",
    );
    assert_round_trip(
        include_str!("fixtures/seed_verbatim.crm"),
        "seed_verbatim.crm",
    );
    assert_round_trip(include_str!("fixtures/features.crm"), "features.crm");
}

#[test]
fn generated_configurations_round_trip() {
    for first in (0..600).step_by(20) {
        assert_round_trip(
            &generate::batch(0xC0FFEE, first, 20),
            &format!("batch-{first}"),
        );
    }
}

fn by_id(config: &CrmConfig, id: &str) -> Statement {
    config
        .statements
        .iter()
        .find(|s| s.object_id() == Some(id))
        .unwrap_or_else(|| panic!("no object {id}"))
        .clone()
}

#[test]
fn seed_as_printed_on_the_slides_loads() {
    let verbatim = parse(
        include_str!("fixtures/seed_verbatim.crm"),
        "seed_verbatim.crm",
    )
    .unwrap();
    let complete = parse(
        include_str!("fixtures/seed_complete.crm"),
        "seed_complete.crm",
    )
    .unwrap();
    let mut objects = 0;
    for st in &verbatim.statements {
        match st.object_id() {
            Some(id) => {
                assert_eq!(
                    st,
                    &by_id(&complete, id),
                    "{id} differs from the plain-syntax version"
                );
                objects += 1;
            }
            None => assert!(
                complete.statements.contains(st),
                "{st:?} missing from seed_complete.crm"
            ),
        }
    }
    assert_eq!(objects, 9);
    // The fencing topology: three levels per node, in order.
    let xml = to_xml(&verbatim);
    assert!(
        xml.contains(
            r#"<fencing-level target="vm01" index="3" devices="prmlpmi1" id="fencing-1"/>"#
        ),
        "{xml}"
    );
    assert!(xml.contains(
        r#"<fencing-level target="vm02" index="2" devices="prmFenceKdump2" id="fencing-3"/>"#
    ));
}

#[test]
fn brief_lines_render_as_crmsh_does() {
    let text = "primitive prmFenceKdump1 stonith:fence_kdump params pcmk_reboot_retries=1 pcmk_reboot_timeout=60s pcmk_reboot_action=off pcmk_monitor_action=metadata pcmk_host_list=vm01 op start interval=0s timeout=60s op stop interval=0s timeout=60s
primitive vm02-remote ocf:pacemaker:remote params server=\"vm02\" op monitor interval=3 timeout=15
location loc1 Remote-rsc1 rule 200: #uname eq vm02-remote
node XXX utilization capacity=\"1\"
property placement-strategy=\"balanced\"
primitive rscDummy ocf:heartbeat:Dummy utilization capacity=\"1\"
";
    let xml = to_xml(&parse(text, "brief.crm").unwrap());
    for expected in [
        r#"<op name="start" interval="0s" timeout="60s" id="prmFenceKdump1-start-0s"/>"#,
        r#"<nvpair name="pcmk_host_list" value="vm01" id="prmFenceKdump1-instance_attributes-pcmk_host_list"/>"#,
        r#"<op name="monitor" interval="3" timeout="15" id="vm02-remote-monitor-3"/>"#,
        r##"<expression operation="eq" attribute="#uname" value="vm02-remote" id="loc1-rule-expression"/>"##,
        r#"<node uname="XXX" id="XXX">"#,
        r#"<nvpair name="capacity" value="1" id="XXX-utilization-capacity"/>"#,
        r#"<nvpair name="placement-strategy" value="balanced" id="cib-bootstrap-options-placement-strategy"/>"#,
        r#"<utilization id="rscDummy-utilization">"#,
    ] {
        assert!(xml.contains(expected), "missing {expected}\n{xml}");
    }
}

#[test]
fn merges_into_a_cib_document() {
    let config = parse(
        "node n1\nprimitive a Dummy\nproperty stonith-enabled=false\n",
        "a.crm",
    )
    .unwrap();
    let cib = merge_into_cib(EMPTY_CIB, &config).unwrap();
    assert!(cib.starts_with("<cib crm_feature_set=\"3.16.1\""), "{cib}");
    assert!(cib.contains("<status/>"));
    assert_eq!(from_xml(&cib).unwrap(), config);

    // A second load replaces objects by id and merges property sets name by name.
    let update = parse(
        "primitive a ocf:pacemaker:Stateful\nprimitive b Dummy\nproperty no-quorum-policy=ignore\n",
        "b.crm",
    )
    .unwrap();
    let merged = from_xml(&merge_into_cib(&cib, &update).unwrap()).unwrap();
    let text = to_crm(&merged);
    assert_eq!(
        text,
        "node n1\nprimitive a ocf:pacemaker:Stateful\nprimitive b Dummy\nproperty cib-bootstrap-options: \\\n\tstonith-enabled=false \\\n\tno-quorum-policy=ignore\n"
    );
    assert!(merge_into_cib("<status/>", &update).is_err());
}

#[test]
fn shows_xml_written_by_other_tools() {
    // Ids not in crmsh's scheme survive as $id=; generated ones are left out.
    let xml = r#"<cib><configuration><crm_config>
        <cluster_property_set id="cib-bootstrap-options"><nvpair id="x" name="a" value="1"/></cluster_property_set>
      </crm_config>
      <nodes><node id="1" uname="n1"><instance_attributes id="nodes-1"><nvpair id="y" name="standby" value="on"/></instance_attributes></node></nodes>
      <resources><clone id="c"><meta_attributes id="c-meta_attributes"><nvpair id="z" name="promotable" value="true"/></meta_attributes>
        <primitive id="p" class="ocf" provider="pacemaker" type="Stateful"><operations>
          <op id="p-mon" name="monitor" interval="10s" role="Promoted"/></operations></primitive></clone></resources>
      <constraints>
        <rsc_location id="l" rsc="c"><rule id="l-rule" score-attribute="pingd" boolean-op="or">
          <expression id="e1" attribute="pingd" operation="not_defined"/>
          <expression id="e2" attribute="pingd" operation="lte" value="0" type="number"/></rule></rsc_location>
        <rsc_order id="o" first="p" then="c" score="0"/>
      </constraints></configuration><status/></cib>"#;
    assert_eq!(
        atrium_crm::cib_to_crm(xml).unwrap(),
        "node 1: n1 \\\n\tattributes $id=nodes-1 standby=on\nprimitive p ocf:pacemaker:Stateful \\\n\top monitor interval=10s role=Promoted\nclone c p \\\n\tmeta promotable=true\nlocation l c \\\n\trule pingd: not_defined pingd or pingd number:lte 0\norder o Optional: p c\nproperty cib-bootstrap-options: \\\n\ta=1\n"
    );
    let ticket = "<configuration><constraints><rsc_ticket id=\"t\" rsc=\"a\" ticket=\"T\"/></constraints></configuration>";
    assert_eq!(
        from_xml(ticket).unwrap_err().to_string(),
        "<rsc_ticket id=\"t\"> cannot be expressed in crm syntax: <rsc_ticket> in <constraints>"
    );
}

#[test]
fn sets_that_would_read_as_a_pair_keep_crmsh_marker() {
    // One plain set of two resources: without `_rsc_set_` it would come back as a
    // two-resource colocation, which is different XML.
    let xml = r#"<configuration><constraints>
        <rsc_colocation id="c" score="INFINITY"><resource_set id="c-0">
          <resource_ref id="a"/><resource_ref id="b"/></resource_set></rsc_colocation>
        <rsc_order id="o" kind="Mandatory"><resource_set id="o-0" action="start">
          <resource_ref id="a"/></resource_set></rsc_order>
      </constraints></configuration>"#;
    let shown = atrium_crm::cib_to_crm(xml).unwrap();
    assert_eq!(
        shown,
        "colocation c inf: _rsc_set_ a b\norder o Mandatory: _rsc_set_ a:start\n"
    );
    let again = to_xml(&parse(&shown, "shown.crm").unwrap());
    assert!(again.contains(r#"<resource_set id="c-0">"#), "{again}");
    assert!(
        again.contains(r#"<resource_set action="start" id="o-0">"#),
        "{again}"
    );
    // The marker alone is not a resource.
    assert!(parse("order o inf: _rsc_set_\n", "x").is_err());
}

#[test]
fn reads_what_crm_configure_show_prints() {
    // Forms crmsh's `show` uses: `node ID: UNAME`, rules without their INFINITY score.
    let text = "node 1001: n1 \\\n\tattributes standby=on\nprimitive a Dummy\nlocation l a \\\n\trule defined pingd\n";
    let xml = to_xml(&parse(text, "show.crm").unwrap());
    assert!(xml.contains(r#"<node uname="n1" id="1001">"#), "{xml}");
    assert!(
        xml.contains(r#"<rule score="INFINITY" id="l-rule">"#),
        "{xml}"
    );
}
