//! Reading and writing CIB XML: the Pacemaker regression inputs (when ATRIUM_PCMK_CASES is
//! set), round trips, error reporting, and fuzzing for panics.

use atrium_cib::{Cib, CibError, Resource, ValueError};
use proptest::prelude::*;
use std::path::PathBuf;

fn cases_dir() -> PathBuf {
    let dir = std::env::var("ATRIUM_PCMK_CASES")
        .expect("set ATRIUM_PCMK_CASES to the pcmk-cases directory (e.g. ../shared/pcmk-cases)");
    PathBuf::from(dir)
}

#[test]
fn every_regression_input_loads_and_round_trips() {
    let dir = cases_dir();
    let names = std::fs::read_to_string(dir.join("CASES.txt")).expect("CASES.txt");
    let mut count = 0;
    for name in names.split_whitespace() {
        let xml = std::fs::read_to_string(dir.join("xml").join(format!("{name}.xml"))).unwrap();
        let cib = Cib::from_xml(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!cib.configuration.nodes.is_empty() || !cib.status.node_states.is_empty(), "{name}");
        let again = Cib::from_xml(&cib.to_xml()).unwrap_or_else(|e| panic!("{name} rewritten: {e}"));
        assert_eq!(cib, again, "{name}: round trip changed the model");
        let json = serde_json::to_string(&cib).unwrap();
        let back: Cib = serde_json::from_str(&json).unwrap();
        assert_eq!(cib, back, "{name}: serde round trip");
        count += 1;
    }
    assert_eq!(count, 52);
}

const SMALL: &str = r##"<cib epoch="3" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="o">
      <nvpair id="o1" name="stonith-enabled" value="false"/>
      <nvpair id="o2" name="placement-strategy" value="balanced"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"><utilization id="u"><nvpair id="u1" name="cpu" value="4"/></utilization></node></nodes>
    <resources>
      <master id="ms"><meta_attributes id="m"><nvpair id="m1" name="promoted-max" value="1"/></meta_attributes>
        <primitive id="p" class="ocf" provider="pacemaker" type="Stateful">
          <operations><op id="p-mon" name="monitor" interval="PT10S" role="Slave" on-fail="restart"/></operations>
        </primitive>
      </master>
    </resources>
    <constraints>
      <rsc_location id="l" rsc="ms"><rule id="r" score="-INFINITY" boolean-op="or">
        <expression id="e" attribute="#uname" operation="eq" value="n2"/>
        <expression id="e2" attribute="pingd" operation="not_defined"/>
      </rule></rsc_location>
      <rsc_order id="o" kind="Serialize"><resource_set id="s" sequential="false"><resource_ref id="p"/></resource_set></rsc_order>
    </constraints>
    <fencing-topology><fencing-level id="f" target="n1" index="1" devices="a,b"/></fencing-topology>
  </configuration>
  <status/>
</cib>"##;

#[test]
fn small_cib_model() {
    let cib = Cib::from_xml(SMALL).unwrap();
    let opts = cib.options();
    assert!(!opts.fencing_enabled, "old option name is an alias");
    assert_eq!(opts.placement_strategy, atrium_cib::PlacementStrategy::Balanced);
    let Resource::Clone(ms) = &cib.configuration.resources[0] else { panic!() };
    assert!(ms.is_promotable());
    let Resource::Primitive(p) = &*ms.child else { panic!() };
    assert_eq!(p.operations[0].interval_ms, 10_000);
    assert_eq!(p.operations[0].role, Some(atrium_cib::Role::Unpromoted));
    assert_eq!(cib.configuration.fencing_topology[0].devices, ["a", "b"]);
    assert_eq!(Cib::from_xml(&cib.to_xml()).unwrap(), cib);
}

#[test]
fn errors_name_element_attribute_and_position() {
    let bad_score = SMALL.replace(r#"score="-INFINITY""#, r#"score="lots""#);
    match Cib::from_xml(&bad_score) {
        Err(CibError::BadAttribute { element, attribute, pos, .. }) => {
            assert_eq!((element.as_str(), attribute.as_str()), ("rule", "score"));
            assert_eq!(pos.line, 16);
        }
        other => panic!("{other:?}"),
    }
    // An empty agent type would be written back as none: refused where it is read.
    let empty_type = SMALL.replace(r#"type="Stateful""#, r#"type="""#);
    match Cib::from_xml(&empty_type) {
        Err(CibError::BadAttribute { element, attribute, source: ValueError::Empty, .. }) => {
            assert_eq!((element.as_str(), attribute.as_str()), ("primitive", "type"));
        }
        other => panic!("{other:?}"),
    }
    let missing = SMALL.replace(r#"class="ocf" "#, "");
    assert!(matches!(
        Cib::from_xml(&missing),
        Err(CibError::MissingAttribute { attribute: "class", .. })
    ));
    assert!(matches!(Cib::from_xml("<cib><configuration>"), Err(CibError::Syntax { .. })));
    assert!(matches!(Cib::from_xml("<other/>"), Err(CibError::NotACib { .. })));
    let err = Cib::from_xml("<cib>\n  <bogus/>\n</cib>").unwrap_err();
    assert_eq!(err.to_string(), "<bogus> at 2:3 is not supported inside <cib>");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,300}") {
        let _ = Cib::from_xml(&s);
    }

    #[test]
    fn mutated_cib_never_panics(cut in 0usize..SMALL.len(), len in 0usize..40, insert in "[<>=\"/a-z &;#0-9-]{0,12}") {
        let mut s = SMALL.to_string();
        let end = (cut + len).min(s.len());
        if s.is_char_boundary(cut) && s.is_char_boundary(end) {
            s.replace_range(cut..end, &insert);
        }
        if let Ok(c) = Cib::from_xml(&s) {
            // Whatever loads must write back into something that loads again.
            prop_assert!(Cib::from_xml(&c.to_xml()).is_ok());
        }
    }
}

#[test]
fn templates_and_bundles_load_and_resolve() {
    let xml = r#"<cib><configuration><crm_config/><nodes/>
      <resources>
        <template id="web-t" class="ocf" provider="heartbeat" type="apache">
          <instance_attributes id="t-ia"><nvpair id="t-ia-1" name="port" value="80"/></instance_attributes>
          <operations><op id="t-mon" name="monitor" interval="30s"/></operations>
        </template>
        <primitive id="web" template="web-t">
          <instance_attributes id="w-ia"><nvpair id="w-ia-1" name="port" value="8080"/></instance_attributes>
        </primitive>
        <bundle id="httpd-bundle">
          <podman image="pcmk:httpd" replicas="3"/>
          <network control-port="3121"><port-mapping id="pm" port="80"/></network>
          <primitive id="httpd" class="ocf" provider="heartbeat" type="apache"/>
        </bundle>
      </resources><constraints/></configuration><status/></cib>"#;
    let cib = Cib::from_xml(xml).unwrap();
    assert_eq!(Cib::from_xml(&cib.to_xml()).unwrap(), cib);
    let resolved = cib.configuration.with_templates_resolved();
    let Resource::Primitive(web) = &resolved.resources[0] else { panic!() };
    assert_eq!(web.agent(), "ocf:heartbeat:apache");
    // The primitive's own value wins over the template's.
    assert_eq!(atrium_cib::nv_get(&web.instance_attributes, "port"), Some("8080"));
    assert_eq!(web.operations.len(), 1);
    let Resource::Bundle(b) = &cib.configuration.resources[1] else { panic!() };
    assert_eq!(b.container.as_ref().unwrap().attrs["replicas"], "3");
    assert_eq!(b.network.as_ref().unwrap().children[0].name, "port-mapping");
    let missing = xml.replace(r#"template="web-t""#, "");
    assert!(matches!(Cib::from_xml(&missing), Err(CibError::MissingAttribute { attribute: "class", .. })));
}
