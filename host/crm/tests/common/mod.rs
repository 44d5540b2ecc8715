//! Shared test helpers: a random crm configuration generator and XML normalisation.
#![allow(dead_code)] // each test binary uses its own subset of these helpers

pub mod generate;

use atrium_crm::xml::{self, Element};

/// The `<configuration>` of a CIB document or the element itself, attributes sorted.
pub fn normalised_configuration(text: &str) -> Element {
    let root = xml::parse(text).expect("well-formed XML");
    let conf = if root.name == "cib" {
        root.child("configuration")
            .expect("<configuration>")
            .clone()
    } else {
        root
    };
    sort_attributes(conf)
}

/// The configuration with each section's objects in (element, id) order.
pub fn sorted_objects(mut conf: Element) -> Element {
    for section in &mut conf.children {
        section
            .children
            .sort_by(|a, b| (&a.name, a.get("id")).cmp(&(&b.name, b.get("id"))));
    }
    conf
}

/// The configuration without what `crm configure show` leaves out: ids defined below
/// the top-level objects (references stay) and the default `type="string"`.
pub fn without_shown_defaults(mut conf: Element) -> Element {
    fn strip(e: &mut Element) {
        if !matches!(e.name.as_str(), "resource_ref" | "obj_ref") {
            e.attrs.retain(|(n, _)| n != "id");
        }
        let expression = e.name == "expression";
        e.attrs
            .retain(|(n, v)| !(expression && n == "type" && v == "string"));
        e.children.iter_mut().for_each(strip);
    }
    for object in conf.children.iter_mut().flat_map(|s| s.children.iter_mut()) {
        object.children.iter_mut().for_each(strip);
    }
    conf
}

fn sort_attributes(mut e: Element) -> Element {
    e.attrs.sort();
    e.children = e.children.into_iter().map(sort_attributes).collect();
    e
}

/// Describes the first difference between two normalised configurations, section by
/// section and object by object, or `None` when they are equal.
pub fn first_difference(ours: &Element, theirs: &Element) -> Option<String> {
    if ours == theirs {
        return None;
    }
    let names = |e: &Element| {
        e.children
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    if names(ours) != names(theirs) {
        return Some(format!(
            "sections differ: atrium {:?}, crmsh {:?}",
            names(ours),
            names(theirs)
        ));
    }
    for (a, b) in ours.children.iter().zip(&theirs.children) {
        if a == b {
            continue;
        }
        let ids = |e: &Element| {
            e.children
                .iter()
                .map(|c| c.get("id").unwrap_or("").to_string())
                .collect::<Vec<_>>()
        };
        if ids(a) != ids(b) {
            return Some(format!(
                "<{}> children differ in order or ids:\n  atrium {:?}\n  crmsh  {:?}",
                a.name,
                ids(a),
                ids(b)
            ));
        }
        for (x, y) in a.children.iter().zip(&b.children) {
            if x != y {
                return Some(format!(
                    "<{}> differs:\n--- atrium\n{}--- crmsh\n{}",
                    a.name,
                    x.to_string_pretty(),
                    y.to_string_pretty()
                ));
            }
        }
    }
    Some("configurations differ".into())
}
