//! Editing the configuration as Pacemaker's command-line tools do (`crm_attribute`,
//! `crm_resource --meta`, `--move`, `--ban`, `--clear`, `--cleanup`), with the ids they write,
//! and showing what an edit changed: a line diff of the CIB XML and a one-line summary.
//!
//! Every function is pure and leaves its input unchanged when it returns an error.

use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

use crate::model::*;
use crate::rule::{Expression, Rule};
use crate::score::Score;
use crate::status::{NodeState, Status};

/// The set `crm_attribute` creates for cluster options.
const BOOTSTRAP_SET: &str = "cib-bootstrap-options";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EditError {
    #[error("no resource {0:?} in the configuration")]
    UnknownResource(String),
    #[error("no node {0:?} in the configuration")]
    UnknownNode(String),
    #[error("cluster property {name:?} is set more than once (nvpairs {})", .ids.join(", "))]
    DuplicateProperty { name: String, ids: Vec<String> },
    #[error("meta attribute {name:?} of resource {rsc:?} is set more than once (nvpairs {})", .ids.join(", "))]
    DuplicateMeta { rsc: String, name: String, ids: Vec<String> },
    #[error("attribute {name:?} of node {node:?} is set more than once (nvpairs {})", .ids.join(", "))]
    DuplicateNodeAttribute { node: String, name: String, ids: Vec<String> },
    #[error("resource {rsc:?} can be moved or banned in role Started or Promoted, not {}", .role.as_str())]
    UnsupportedRole { rsc: String, role: Role },
}

/// Set a cluster option as `crm_attribute --name NAME --update VALUE` does: the nvpair that
/// already sets it is updated wherever it is; otherwise one with id `cib-bootstrap-options-NAME`
/// is added to the `cib-bootstrap-options` set, which is created if missing.
pub fn set_property(cfg: &mut Configuration, name: &str, value: &str) -> Result<(), EditError> {
    upsert(&mut cfg.crm_config, BOOTSTRAP_SET, name, value)
        .map_err(|ids| EditError::DuplicateProperty { name: name.to_string(), ids })
}

/// Remove a cluster option from every set; true if it was set.
pub fn unset_property(cfg: &mut Configuration, name: &str) -> bool {
    remove_all(&mut cfg.crm_config, name)
}

/// Set a meta attribute of the primitive, group, clone or bundle `rsc_id` (members of groups and
/// clones included) as `crm_resource --meta --set-parameter` does: an existing nvpair is updated
/// in place, otherwise one with id `RSC-meta_attributes-NAME` goes into the set
/// `RSC-meta_attributes`, created if missing.
pub fn set_resource_meta(cfg: &mut Configuration, rsc_id: &str, name: &str, value: &str) -> Result<(), EditError> {
    let sets = cfg
        .resources
        .iter_mut()
        .find_map(|r| meta_sets_mut(r, rsc_id))
        .ok_or_else(|| EditError::UnknownResource(rsc_id.to_string()))?;
    upsert(sets, &format!("{rsc_id}-meta_attributes"), name, value).map_err(|ids| EditError::DuplicateMeta {
        rsc: rsc_id.to_string(),
        name: name.to_string(),
        ids,
    })
}

/// Set `target-role`, as `crm_resource --start`/`--stop` do on the resource itself.
pub fn set_target_role(cfg: &mut Configuration, rsc_id: &str, role: Role) -> Result<(), EditError> {
    set_resource_meta(cfg, rsc_id, "target-role", role.as_str())
}

/// `crm_resource --move --resource RSC --node NODE [--promoted]`: the location `cli-prefer-RSC`
/// (score INFINITY) replaces any earlier one, and a ban of RSC from NODE is lifted. For the
/// Promoted role a member of a promotable clone moves as the whole clone, and a resource that
/// cannot be promoted moves as Started, as crm_resource does.
pub fn move_resource(cfg: &mut Configuration, rsc_id: &str, node: &str, role: Option<Role>) -> Result<(), EditError> {
    let top = top_resource(cfg, rsc_id)?;
    let node = canonical_uname(cfg, node)?;
    let promoted = promoted_only(rsc_id, role)?;
    let (rsc, role) = match top {
        Resource::Clone(c) if promoted && c.is_promotable() => (c.id.clone(), Role::Promoted),
        _ => (rsc_id.to_string(), Role::Started),
    };
    let prefer = xml_id(&format!("cli-prefer-{rsc}"));
    let ban = xml_id(&format!("cli-ban-{rsc}-on-{node}"));
    cfg.constraints.retain(|c| c.id() != prefer && c.id() != ban);
    cfg.constraints.push(cli_location(prefer, &rsc, &node, role, Score::INFINITY));
    Ok(())
}

/// `crm_resource --ban --resource RSC --node NODE [--promoted]`: the location
/// `cli-ban-RSC-on-NODE` with score -INFINITY, replacing one of that id in place.
pub fn ban_resource(cfg: &mut Configuration, rsc_id: &str, node: &str, role: Option<Role>) -> Result<(), EditError> {
    top_resource(cfg, rsc_id)?;
    let node = canonical_uname(cfg, node)?;
    let role = if promoted_only(rsc_id, role)? { Role::Promoted } else { Role::Started };
    let id = xml_id(&format!("cli-ban-{rsc_id}-on-{node}"));
    let ban = cli_location(id.clone(), rsc_id, &node, role, Score::NEG_INFINITY);
    match cfg.constraints.iter_mut().find(|c| c.id() == id) {
        Some(existing) => *existing = ban,
        None => cfg.constraints.push(ban),
    }
    Ok(())
}

/// `crm_resource --clear --resource RSC [--node NODE]`: removes `cli-prefer-RSC` and every
/// `cli-ban-RSC-on-*`; given a node, only the ban from that node, and the preference only if it
/// is for that node. Returns how many constraints were removed.
pub fn clear_resource(cfg: &mut Configuration, rsc_id: &str, node: Option<&str>) -> Result<usize, EditError> {
    top_resource(cfg, rsc_id)?;
    let node = node.map(|n| canonical_uname(cfg, n)).transpose()?;
    let prefer = xml_id(&format!("cli-prefer-{rsc_id}"));
    let before = cfg.constraints.len();
    match node {
        Some(node) => {
            let ban = xml_id(&format!("cli-ban-{rsc_id}-on-{node}"));
            cfg.constraints.retain(|c| c.id() != ban && !(c.id() == prefer && prefers_node(c, &node)));
        }
        None => {
            // The resource check keeps the bans of a resource named e.g. "web-on-x" when
            // clearing "web".
            let ban_prefix = xml_id(&format!("cli-ban-{rsc_id}-on-"));
            cfg.constraints.retain(|c| {
                let is_ban = matches!(c, Constraint::Location(l)
                    if l.id.starts_with(&ban_prefix) && l.rsc.as_deref() == Some(rsc_id));
                c.id() != prefer && !is_ban
            });
        }
    }
    Ok(before - cfg.constraints.len())
}

/// Set a permanent node attribute as `crm_attribute --node NODE --name NAME --update VALUE`
/// does: an existing nvpair among the node's `instance_attributes` is updated in place,
/// otherwise one with id `nodes-<node id>-NAME` goes into the set `nodes-<node id>`.
pub fn set_node_attribute(cfg: &mut Configuration, node_uname: &str, name: &str, value: &str) -> Result<(), EditError> {
    let node = find_node_mut(cfg, node_uname)?;
    let set_id = format!("nodes-{}", node.id);
    upsert(&mut node.attributes, &set_id, name, value).map_err(|ids| EditError::DuplicateNodeAttribute {
        node: node.uname.clone(),
        name: name.to_string(),
        ids,
    })
}

/// Remove a permanent node attribute from every set of the node; true if it was set.
pub fn unset_node_attribute(cfg: &mut Configuration, node_uname: &str, name: &str) -> Result<bool, EditError> {
    Ok(remove_all(&mut find_node_mut(cfg, node_uname)?.attributes, name))
}

/// Put a node in or out of standby as `crm_standby --update on|off` does.
pub fn set_standby(cfg: &mut Configuration, node_uname: &str, standby: bool) -> Result<(), EditError> {
    set_node_attribute(cfg, node_uname, "standby", if standby { "on" } else { "off" })
}

/// `crm_resource --cleanup [--resource RSC] [--node NODE]` as Pacemaker 1.1 did it (2.x calls
/// this `--refresh`; its `--cleanup` spares histories without failures): forget the operation
/// history (`lrm_resource` entries) of the resource on the node, and its `fail-count-*` and
/// `last-failure-*` attributes. A group stands for its members and a clone for its instances
/// (`RSC:N`, or `RSC` for anonymous clones); no resource means all, no node means every node.
/// A resource only found in the history (an orphan) can be cleaned up too. Returns the number
/// of `lrm_resource` entries removed.
pub fn cleanup(
    status: &mut Status,
    cfg: &Configuration,
    rsc: Option<&str>,
    node: Option<&str>,
) -> Result<usize, EditError> {
    let targets = match rsc {
        None => None,
        Some(id) => Some(match cfg.resources.iter().find_map(|r| ids_at(r, id)) {
            Some(ids) => ids,
            None if status.node_states.iter().flat_map(|n| &n.lrm_resources).any(|r| is_history_of(&r.id, &[id])) => {
                vec![id]
            }
            None => return Err(EditError::UnknownResource(id.to_string())),
        }),
    };
    let config_node = node.and_then(|n| find_node(cfg, n));
    let on_node = |ns: &NodeState| match node {
        None => true,
        Some(n) => {
            config_node.is_some_and(|c| c.id == ns.id) || ns.uname.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(n))
        }
    };
    if let Some(n) = node
        && config_node.is_none()
        && !status.node_states.iter().any(on_node)
    {
        return Err(EditError::UnknownNode(n.to_string()));
    }
    let concerns = |id: &str| targets.as_deref().is_none_or(|t| is_history_of(id, t));
    let mut removed = 0;
    for ns in status.node_states.iter_mut().filter(|ns| on_node(ns)) {
        let before = ns.lrm_resources.len();
        ns.lrm_resources.retain(|r| !concerns(&r.id));
        removed += before - ns.lrm_resources.len();
        for set in &mut ns.transient_attributes {
            set.pairs.retain(|p| !failure_attribute_rsc(&p.name).is_some_and(concerns));
        }
    }
    Ok(removed)
}

/// True if a primitive, group, clone or bundle (or a member of one) has this id.
pub fn resource_exists(cfg: &Configuration, id: &str) -> bool {
    cfg.resources.iter().any(|r| ids_at(r, id).is_some())
}

/// True if a configured node has this name (compared ignoring ASCII case, as Pacemaker does).
pub fn node_exists(cfg: &Configuration, uname: &str) -> bool {
    find_node(cfg, uname).is_some()
}

/// The two configurations as CIB XML, compared line by line in unified style (`-` old, `+` new,
/// three lines of context); empty when they render the same.
pub fn config_diff(old: &Configuration, new: &Configuration) -> String {
    xml_diff(&old.to_xml(), &new.to_xml())
}

/// The diff of two configurations already rendered with [`Configuration::to_xml`].
pub fn xml_diff(old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new).unified_diff().context_radius(3).header("old", "new").to_string()
}

/// One line naming what changed, section by section: `+` added, `-` removed, `~` changed;
/// resources (top level), constraints, templates and fencing levels by id, nodes by uname,
/// properties and defaults by name. A section whose items only moved shows `(rearranged)`.
/// Empty when the configurations are equal.
pub fn config_summary(old: &Configuration, new: &Configuration) -> String {
    let sections = [
        ("resources", changes(&keyed(&old.resources, Resource::id), &keyed(&new.resources, Resource::id))),
        ("constraints", changes(&keyed(&old.constraints, Constraint::id), &keyed(&new.constraints, Constraint::id))),
        ("properties", changes(&pairs(&old.crm_config), &pairs(&new.crm_config))),
        ("nodes", changes(&keyed(&old.nodes, |n| n.uname.as_str()), &keyed(&new.nodes, |n| n.uname.as_str()))),
        ("templates", changes(&keyed(&old.templates, |t| t.id.as_str()), &keyed(&new.templates, |t| t.id.as_str()))),
        ("rsc_defaults", changes(&pairs(&old.rsc_defaults), &pairs(&new.rsc_defaults))),
        ("op_defaults", changes(&pairs(&old.op_defaults), &pairs(&new.op_defaults))),
        (
            "fencing-topology",
            changes(&keyed(&old.fencing_topology, |l| l.id.as_str()), &keyed(&new.fencing_topology, |l| l.id.as_str())),
        ),
    ];
    sections
        .into_iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(section, items)| format!("{section}: {}", items.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Set `name` in one of `sets` as Pacemaker's attribute tools do; on failure, the ids of the
/// several nvpairs that set it.
fn upsert(sets: &mut Vec<NvSet>, set_id: &str, name: &str, value: &str) -> Result<(), Vec<String>> {
    let found: Vec<(usize, usize)> = sets
        .iter()
        .enumerate()
        .flat_map(|(s, set)| set.pairs.iter().enumerate().filter(|(_, p)| p.name == name).map(move |(p, _)| (s, p)))
        .collect();
    match found[..] {
        [] => {
            let pair = NvPair {
                id: Some(xml_id(&format!("{set_id}-{name}"))),
                name: name.to_string(),
                value: Some(value.to_string()),
            };
            match sets.iter_mut().find(|s| s.id.as_deref() == Some(set_id)) {
                Some(set) => set.pairs.push(pair),
                None => sets.push(NvSet { id: Some(set_id.to_string()), pairs: vec![pair], ..Default::default() }),
            }
        }
        [(s, p)] => sets[s].pairs[p].value = Some(value.to_string()),
        _ => {
            let id = |&(s, p): &(usize, usize)| sets[s].pairs[p].id.clone().unwrap_or_else(|| "(no id)".to_string());
            return Err(found.iter().map(id).collect());
        }
    }
    Ok(())
}

/// Remove every nvpair named `name`, leaving the sets (possibly empty) in place as Pacemaker does.
fn remove_all(sets: &mut [NvSet], name: &str) -> bool {
    let mut removed = false;
    for set in sets {
        let before = set.pairs.len();
        set.pairs.retain(|p| p.name != name);
        removed |= set.pairs.len() != before;
    }
    removed
}

/// Pacemaker's `pcmk__xml_sanitize_id`: a generated id must be an XML name, so an invalid first
/// character becomes `_` and any other invalid character `.` (one per UTF-8 byte, as it works on
/// bytes).
fn xml_id(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, c) in raw.chars().enumerate() {
        if i == 0 && !is_name_start_char(c) {
            out.push('_');
            out.extend(std::iter::repeat_n('.', c.len_utf8() - 1));
        } else if i > 0 && !is_name_char(c) {
            out.extend(std::iter::repeat_n('.', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

/// XML 1.0 NameStartChar.
fn is_name_start_char(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 NameChar.
fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// The meta attribute sets of the resource `id` within `r`.
fn meta_sets_mut<'a>(r: &'a mut Resource, id: &str) -> Option<&'a mut Vec<NvSet>> {
    match r {
        Resource::Primitive(p) => (p.id == id).then_some(&mut p.meta_attributes),
        Resource::Group(g) => {
            if g.id == id {
                Some(&mut g.meta_attributes)
            } else {
                g.children.iter_mut().find(|p| p.id == id).map(|p| &mut p.meta_attributes)
            }
        }
        Resource::Clone(c) => {
            if c.id == id {
                Some(&mut c.meta_attributes)
            } else {
                meta_sets_mut(&mut c.child, id)
            }
        }
        Resource::Bundle(b) => {
            if b.id == id {
                Some(&mut b.meta_attributes)
            } else {
                b.primitive.as_mut().filter(|p| p.id == id).map(|p| &mut p.meta_attributes)
            }
        }
    }
}

/// If the resource `id` is `r` or inside it: its id and the ids of everything inside it.
fn ids_at<'a>(r: &'a Resource, id: &str) -> Option<Vec<&'a str>> {
    if r.id() == id {
        return Some(ids_within(r));
    }
    match r {
        Resource::Primitive(_) => None,
        Resource::Group(g) => g.children.iter().find(|p| p.id == id).map(|p| vec![p.id.as_str()]),
        Resource::Clone(c) => ids_at(&c.child, id),
        Resource::Bundle(b) => b.primitive.iter().find(|p| p.id == id).map(|p| vec![p.id.as_str()]),
    }
}

fn ids_within(r: &Resource) -> Vec<&str> {
    let mut out = vec![r.id()];
    match r {
        Resource::Primitive(_) => {}
        Resource::Group(g) => out.extend(g.children.iter().map(|p| p.id.as_str())),
        Resource::Clone(c) => out.extend(ids_within(&c.child)),
        Resource::Bundle(b) => out.extend(b.primitive.iter().map(|p| p.id.as_str())),
    }
    out
}

/// The top-level resource holding the resource `id`.
fn top_resource<'a>(cfg: &'a Configuration, id: &str) -> Result<&'a Resource, EditError> {
    cfg.resources.iter().find(|r| ids_at(r, id).is_some()).ok_or_else(|| EditError::UnknownResource(id.to_string()))
}

/// Pacemaker looks node names up ignoring ASCII case (`query_node_uuid`, `pe_find_node`).
fn find_node<'a>(cfg: &'a Configuration, uname: &str) -> Option<&'a Node> {
    cfg.nodes.iter().find(|n| n.uname.eq_ignore_ascii_case(uname))
}

fn find_node_mut<'a>(cfg: &'a mut Configuration, uname: &str) -> Result<&'a mut Node, EditError> {
    cfg.nodes
        .iter_mut()
        .find(|n| n.uname.eq_ignore_ascii_case(uname))
        .ok_or_else(|| EditError::UnknownNode(uname.to_string()))
}

/// The node's name as configured: crm_resource writes that, not what the user typed.
fn canonical_uname(cfg: &Configuration, uname: &str) -> Result<String, EditError> {
    find_node(cfg, uname).map(|n| n.uname.clone()).ok_or_else(|| EditError::UnknownNode(uname.to_string()))
}

/// crm_resource's `--promoted` flag: the only roles it moves or bans are Started and Promoted.
fn promoted_only(rsc: &str, role: Option<Role>) -> Result<bool, EditError> {
    match role {
        None | Some(Role::Started) => Ok(false),
        Some(Role::Promoted) => Ok(true),
        Some(role) => Err(EditError::UnsupportedRole { rsc: rsc.to_string(), role }),
    }
}

fn cli_location(id: String, rsc: &str, node: &str, role: Role, score: Score) -> Constraint {
    Constraint::Location(Location {
        id,
        rsc: Some(rsc.to_string()),
        role: Some(role),
        node: Some(node.to_string()),
        score: Some(score),
        ..Default::default()
    })
}

/// Whether a `cli-prefer-*` location is for this node, written either way crm_resource writes
/// it: `node=`, or (with a lifetime) a rule on `#uname`.
fn prefers_node(c: &Constraint, node: &str) -> bool {
    let Constraint::Location(l) = c else { return false };
    l.node.as_deref() == Some(node)
        || l.rules.iter().flat_map(|r| &r.expressions).any(
            |e| matches!(e, Expression::Attribute(a) if a.attribute == "#uname" && a.value.as_deref() == Some(node)),
        )
}

/// Whether an `lrm_resource` id is the history of one of `ids`: the id itself or a clone
/// instance of it (`ID:N`).
fn is_history_of(lrm_id: &str, ids: &[&str]) -> bool {
    let base = lrm_id
        .rsplit_once(':')
        .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .map_or(lrm_id, |(base, _)| base);
    ids.contains(&lrm_id) || ids.contains(&base)
}

/// The resource a `fail-count-RSC[#OP_INTERVAL]` or `last-failure-...` attribute is about.
fn failure_attribute_rsc(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("fail-count-").or_else(|| name.strip_prefix("last-failure-"))?;
    Some(rest.split_once('#').map_or(rest, |(rsc, _)| rsc))
}

fn keyed<'a, T>(items: &'a [T], key: impl Fn(&'a T) -> &'a str) -> Vec<(&'a str, &'a T)> {
    items.iter().map(|i| (key(i), i)).collect()
}

/// A pair with what of its set decides where and whether it applies.
type PairInSet<'a> = (Option<&'a String>, Option<Score>, Option<&'a Rule>, &'a NvPair);

fn pairs(sets: &[NvSet]) -> Vec<(&str, PairInSet<'_>)> {
    sets.iter()
        .flat_map(|s| s.pairs.iter().map(move |p| (p.name.as_str(), (s.id.as_ref(), s.score, s.rule.as_ref(), p))))
        .collect()
}

/// `+key` for added, `~key` for changed, `-key` for removed, in that order and in configuration
/// order within each.
fn changes<T: PartialEq>(old: &[(&str, T)], new: &[(&str, T)]) -> Vec<String> {
    fn by_key<'a, T>(items: &'a [(&'a str, T)]) -> BTreeMap<&'a str, Vec<&'a T>> {
        let mut map: BTreeMap<&str, Vec<&T>> = BTreeMap::new();
        for (k, v) in items {
            map.entry(*k).or_default().push(v);
        }
        map
    }
    let (before, after) = (by_key(old), by_key(new));
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (k, _) in new {
        if !before.contains_key(k) && seen.insert(*k) {
            out.push(format!("+{k}"));
        }
    }
    for (k, _) in new {
        if before.get(k).is_some_and(|v| *v != after[k]) && seen.insert(*k) {
            out.push(format!("~{k}"));
        }
    }
    for (k, _) in old {
        if !after.contains_key(k) && seen.insert(*k) {
            out.push(format!("-{k}"));
        }
    }
    if out.is_empty() && old != new {
        out.push("(rearranged)".to_string());
    }
    out
}
