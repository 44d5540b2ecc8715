//! The Pacemaker command-line tools OCF agents call, answered from a [`NodeAttributeStore`]:
//! `crm_attribute` (node attributes and `--promotion` scores), the older `crm_master`,
//! `attrd_updater` and `crm_node -n`.
//!
//! The shim puts symlinks with these names, pointing at one helper executable (the `atrium`
//! binary), into a directory that it makes `HA_SBIN_DIR` and the head of `PATH`. That
//! executable sees which name it was called by and hands its arguments to [`run_helper`].
//! The options and output follow the Pacemaker 2.1 tools' documented behaviour; the store has
//! no notion of lifetime (reboot/forever), so `-l` is accepted and does not change where a
//! value goes.

use crate::env::{ATTRIBUTES_FILE_VAR, NODE_NAME_VAR};
use atrium_contract::{FileAttributeStore, NodeAttributeStore, promotion_attribute};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Pacemaker's exit codes for these tools.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 64;
pub const EXIT_NO_SUCH: i32 = 105;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperTool {
    CrmAttribute,
    CrmMaster,
    CrmNode,
    AttrdUpdater,
}

impl HelperTool {
    pub const ALL: [HelperTool; 4] =
        [HelperTool::CrmAttribute, HelperTool::CrmMaster, HelperTool::CrmNode, HelperTool::AttrdUpdater];

    pub fn command_name(self) -> &'static str {
        match self {
            HelperTool::CrmAttribute => "crm_attribute",
            HelperTool::CrmMaster => "crm_master",
            HelperTool::CrmNode => "crm_node",
            HelperTool::AttrdUpdater => "attrd_updater",
        }
    }

    /// Recognises the tool from `argv[0]` (a path or a bare name).
    pub fn from_argv0(argv0: &str) -> Option<HelperTool> {
        let base = Path::new(argv0).file_name()?.to_str()?;
        HelperTool::ALL.into_iter().find(|t| t.command_name() == base)
    }
}

/// What the tool prints and returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl HelperOutput {
    fn ok(stdout: String) -> Self {
        HelperOutput { code: EXIT_OK, stdout, stderr: String::new() }
    }

    fn fail(code: i32, tool: HelperTool, message: impl std::fmt::Display) -> Self {
        HelperOutput { code, stdout: String::new(), stderr: format!("{}: {message}\n", tool.command_name()) }
    }
}

/// Runs the tool `argv0` names with `args` (without argv[0]) against `store`. `env` supplies
/// `ATRIUM_NODE_NAME` (the local node) and `OCF_RESOURCE_INSTANCE` (the default resource for
/// promotion scores).
pub fn run_helper(
    argv0: &str,
    args: &[String],
    store: &dyn NodeAttributeStore,
    env: &BTreeMap<String, String>,
) -> HelperOutput {
    let Some(tool) = HelperTool::from_argv0(argv0) else {
        return HelperOutput {
            code: EXIT_USAGE,
            stdout: String::new(),
            stderr: format!("{argv0}: not a helper tool this executable provides\n"),
        };
    };
    let parsed = match parse_options(options_of(tool), args) {
        Ok(p) => p,
        Err(e) => return HelperOutput::fail(EXIT_USAGE, tool, e),
    };
    match tool {
        HelperTool::CrmAttribute => crm_attribute(&parsed, store, env),
        HelperTool::CrmMaster => crm_master(&parsed, store, env),
        HelperTool::CrmNode => crm_node(&parsed, env),
        HelperTool::AttrdUpdater => attrd_updater(&parsed, store, env),
    }
    .unwrap_or_else(|f| HelperOutput::fail(f.code, tool, f.message))
}

/// Entry point for the helper executable: reads the process's arguments and environment,
/// opens the attribute file named by `ATRIUM_ATTRIBUTES_FILE`, prints, returns the exit code.
pub fn main_from_env() -> i32 {
    use std::io::Write;
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_default();
    let args: Vec<String> = argv.collect();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let out = match env.get(ATTRIBUTES_FILE_VAR) {
        Some(path) => run_helper(&argv0, &args, &FileAttributeStore::new(path), &env),
        None => HelperOutput {
            code: EXIT_ERROR,
            stdout: String::new(),
            stderr: format!("{argv0}: {ATTRIBUTES_FILE_VAR} is not set\n"),
        },
    };
    // A closed stdout (agent piping into `head`) must not turn a done update into a failure.
    let _ = io::stdout().write_all(out.stdout.as_bytes());
    let _ = io::stderr().write_all(out.stderr.as_bytes());
    out.code
}

/// Creates `dir` with one symlink per tool pointing at `helper_exe`. Links are swapped in by
/// rename, so concurrent shims and running agents never see a missing or half-made link.
pub fn install_helper_links(dir: &Path, helper_exe: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for tool in HelperTool::ALL {
        let link = dir.join(tool.command_name());
        if std::fs::read_link(&link).is_ok_and(|t| t == helper_exe) {
            continue;
        }
        // Unique per call, not just per process: two threads may prepare the links at once.
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{}.{}.{call}", tool.command_name(), std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(helper_exe, &tmp)?;
        std::fs::rename(&tmp, &link)?;
    }
    Ok(())
}

struct Failure {
    code: i32,
    message: String,
}

fn failure(code: i32, message: impl Into<String>) -> Failure {
    Failure { code, message: message.into() }
}

fn local_node(env: &BTreeMap<String, String>) -> Result<String, Failure> {
    env.get(NODE_NAME_VAR)
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| failure(EXIT_ERROR, format!("{NODE_NAME_VAR} is not set: cannot tell the local node")))
}

fn resource_instance(explicit: Option<&str>, env: &BTreeMap<String, String>) -> Result<String, Failure> {
    explicit
        .or(env.get("OCF_RESOURCE_INSTANCE").map(String::as_str))
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .ok_or_else(|| failure(EXIT_USAGE, "no resource specified (give one or set OCF_RESOURCE_INSTANCE)"))
}

// ---- option parsing -------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    /// glib's optional argument: attached (`-pX`, `--opt=X`) or the next word unless it looks
    /// like an option.
    Optional,
}

/// One option: canonical key, short letter, long names.
struct Opt {
    key: &'static str,
    short: Option<char>,
    long: &'static [&'static str],
    arg: Arg,
}

const fn opt(key: &'static str, short: Option<char>, long: &'static [&'static str], arg: Arg) -> Opt {
    Opt { key, short, long, arg }
}

const COMMON: [Opt; 3] = [
    opt("verbose", Some('V'), &["verbose"], Arg::None),
    opt("quiet", Some('q'), &["quiet"], Arg::None),
    opt("quiet", Some('Q'), &[], Arg::None),
];

const CRM_ATTRIBUTE: &[Opt] = &[
    opt("name", Some('n'), &["name", "attr-name"], Arg::Required),
    opt("promotion", Some('p'), &["promotion"], Arg::Optional),
    opt("query", Some('G'), &["query", "get-value"], Arg::None),
    opt("update", Some('v'), &["update", "attr-value"], Arg::Required),
    opt("delete", Some('D'), &["delete", "delete-attr"], Arg::None),
    opt("node", Some('N'), &["node"], Arg::Required),
    opt("node", Some('U'), &["uname"], Arg::Required),
    opt("lifetime", Some('l'), &["lifetime"], Arg::Required),
    opt("type", Some('t'), &["type"], Arg::Required),
    opt("default", Some('d'), &["default"], Arg::Required),
    opt("id", Some('i'), &["id", "attr-id"], Arg::Required),
    opt("set-name", Some('s'), &["set-name"], Arg::Required),
    opt("utilization", Some('z'), &["utilization"], Arg::None),
    opt("pattern", Some('P'), &["pattern"], Arg::Required),
];

const CRM_MASTER: &[Opt] = &[
    opt("query", Some('G'), &["query", "get-value"], Arg::None),
    opt("update", Some('v'), &["update", "attr-value"], Arg::Required),
    opt("delete", Some('D'), &["delete", "delete-attr"], Arg::None),
    opt("node", Some('N'), &["node"], Arg::Required),
    opt("node", Some('U'), &["uname"], Arg::Required),
    opt("lifetime", Some('l'), &["lifetime"], Arg::Required),
    opt("id", Some('i'), &["id", "attr-id"], Arg::Required),
    opt("resource", Some('r'), &["resource"], Arg::Required),
];

const CRM_NODE: &[Opt] = &[opt("name", Some('n'), &["name"], Arg::None)];

const ATTRD_UPDATER: &[Opt] = &[
    opt("name", Some('n'), &["name"], Arg::Required),
    opt("update", Some('U'), &["update"], Arg::Required),
    opt("update-both", Some('B'), &["update-both"], Arg::Required),
    opt("update-delay", Some('Y'), &["update-delay"], Arg::None),
    opt("query", Some('Q'), &["query"], Arg::None),
    opt("delete", Some('D'), &["delete"], Arg::None),
    opt("refresh", Some('R'), &["refresh"], Arg::None),
    opt("delay", Some('d'), &["delay"], Arg::Required),
    opt("set", Some('s'), &["set"], Arg::Required),
    opt("node", Some('N'), &["node"], Arg::Required),
    opt("all", Some('A'), &["all"], Arg::None),
    opt("lifetime", Some('l'), &["lifetime"], Arg::Required),
    opt("private", Some('p'), &["private"], Arg::None),
    opt("verbose", Some('V'), &["verbose"], Arg::None),
];

fn options_of(tool: HelperTool) -> Vec<&'static Opt> {
    let own = match tool {
        HelperTool::CrmAttribute => CRM_ATTRIBUTE,
        HelperTool::CrmMaster => CRM_MASTER,
        HelperTool::CrmNode => CRM_NODE,
        // attrd_updater's -Q is --query, not --quiet.
        HelperTool::AttrdUpdater => return ATTRD_UPDATER.iter().collect(),
    };
    own.iter().chain(COMMON.iter()).collect()
}

/// Options in order of appearance, as (key, value).
#[derive(Debug, Default)]
struct Parsed {
    opts: Vec<(&'static str, Option<String>)>,
}

impl Parsed {
    fn has(&self, key: &str) -> bool {
        self.opts.iter().any(|(k, _)| *k == key)
    }

    /// The last value given for `key` (later options override earlier ones).
    fn value(&self, key: &str) -> Option<&str> {
        self.opts.iter().rev().find(|(k, _)| *k == key).and_then(|(_, v)| v.as_deref())
    }
}

fn parse_options(table: Vec<&'static Opt>, args: &[String]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let next_is_value = |i: usize| args.get(i).is_some_and(|n| !n.starts_with('-'));
        if let Some(long) = a.strip_prefix("--") {
            if long.is_empty() {
                return Err("unexpected arguments after --".into());
            }
            let (name, attached) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let o = table.iter().find(|o| o.long.contains(&name)).ok_or_else(|| format!("unknown option --{name}"))?;
            let value = match (o.arg, attached) {
                (Arg::None, Some(_)) => return Err(format!("option --{name} takes no value")),
                (Arg::None, None) => None,
                (_, Some(v)) => Some(v),
                (Arg::Required, None) => {
                    Some(args.get(i).cloned().ok_or_else(|| format!("option --{name} needs a value"))?)
                        .inspect(|_| i += 1)
                }
                (Arg::Optional, None) if next_is_value(i) => {
                    i += 1;
                    Some(args[i - 1].clone())
                }
                (Arg::Optional, None) => None,
            };
            parsed.opts.push((o.key, value));
        } else if let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (pos, c) in shorts.char_indices() {
                let o = table.iter().find(|o| o.short == Some(c)).ok_or_else(|| format!("unknown option -{c}"))?;
                if o.arg == Arg::None {
                    parsed.opts.push((o.key, None));
                    continue;
                }
                let rest = &shorts[pos + c.len_utf8()..];
                let value = if !rest.is_empty() {
                    Some(rest.to_string())
                } else if o.arg == Arg::Required {
                    let v = args.get(i).cloned().ok_or_else(|| format!("option -{c} needs a value"))?;
                    i += 1;
                    Some(v)
                } else if next_is_value(i) {
                    i += 1;
                    Some(args[i - 1].clone())
                } else {
                    None
                };
                parsed.opts.push((o.key, value));
                break;
            }
        } else {
            return Err(format!("unexpected argument '{a}'"));
        }
    }
    Ok(parsed)
}

// ---- the tools ------------------------------------------------------------------------------

enum Command {
    Query,
    Update(String),
    Delete,
}

/// The one command of a parsed command line; queries are the default, as in crm_attribute.
fn command(p: &Parsed, update_keys: &[&str]) -> Result<Command, Failure> {
    let mut cmds = Vec::new();
    for (k, v) in &p.opts {
        match *k {
            "query" => cmds.push(Command::Query),
            "delete" => cmds.push(Command::Delete),
            k if update_keys.contains(&k) => cmds.push(Command::Update(v.clone().unwrap_or_default())),
            _ => {}
        }
    }
    match cmds.len() {
        0 => Ok(Command::Query),
        1 => Ok(cmds.pop().expect("one command")),
        _ => Err(failure(EXIT_USAGE, "give only one of query, update and delete")),
    }
}

/// A node attribute operation, shared by crm_attribute and crm_master.
struct NodeAttrOp {
    node: String,
    name: String,
    /// What crm_attribute prints as `scope=`: `status` for reboot lifetime, `nodes` otherwise.
    scope: &'static str,
    quiet: bool,
    default: Option<String>,
}

impl NodeAttrOp {
    fn run(&self, cmd: Command, store: &dyn NodeAttributeStore) -> Result<HelperOutput, Failure> {
        let store_err = |e: atrium_contract::AttributeError| failure(EXIT_ERROR, e.to_string());
        match cmd {
            Command::Update(v) => store.set(&self.node, &self.name, &v).map_err(store_err)?,
            Command::Delete => store.delete(&self.node, &self.name).map_err(store_err)?,
            Command::Query => {
                let value = store.get(&self.node, &self.name).map_err(store_err)?.or_else(|| self.default.clone());
                let Some(value) = value else {
                    return Err(failure(
                        EXIT_NO_SUCH,
                        format!("error performing operation: no such attribute {} on node {}", self.name, self.node),
                    ));
                };
                let line =
                    if self.quiet { value } else { format!("scope={}  name={} value={value}", self.scope, self.name) };
                return Ok(HelperOutput::ok(line + "\n"));
            }
        }
        Ok(HelperOutput::ok(String::new()))
    }
}

fn scope_of_lifetime(lifetime: Option<&str>) -> Result<&'static str, Failure> {
    match lifetime {
        Some("reboot") | Some("status") => Ok("status"),
        None | Some("forever") | Some("nodes") => Ok("nodes"),
        Some(other) => Err(failure(EXIT_USAGE, format!("invalid lifetime '{other}' (use reboot or forever)"))),
    }
}

fn crm_attribute(
    p: &Parsed,
    store: &dyn NodeAttributeStore,
    env: &BTreeMap<String, String>,
) -> Result<HelperOutput, Failure> {
    for unsupported in ["pattern", "utilization"] {
        if p.has(unsupported) {
            return Err(failure(EXIT_USAGE, format!("--{unsupported} is not supported for agents")));
        }
    }
    let cmd = command(p, &["update"])?;
    let section = p.value("type");
    let node_scope = p.has("promotion")
        || p.has("node")
        || p.has("lifetime")
        || matches!(section, Some("status") | Some("nodes") | Some("reboot") | Some("forever"));
    if !node_scope {
        // Cluster options (crm_config, rsc_defaults, ...) live in the CIB, which agents do not
        // reach here: report them as unset so `-d DEFAULT` queries still get their default.
        let name = p.value("name").unwrap_or_default();
        return match (cmd, p.value("default")) {
            (Command::Query, Some(d)) => Ok(HelperOutput::ok(if p.has("quiet") {
                format!("{d}\n")
            } else {
                format!("scope={}  name={name} value={d}\n", section.unwrap_or("crm_config"))
            })),
            (Command::Query, None) => {
                Err(failure(EXIT_NO_SUCH, format!("error performing operation: no such cluster option {name}")))
            }
            _ => Err(failure(EXIT_ERROR, "cluster options cannot be changed from an agent")),
        };
    }
    let name = if p.has("promotion") {
        promotion_attribute(&resource_instance(p.value("promotion"), env)?)
    } else {
        p.value("name").map(str::to_string).ok_or_else(|| failure(EXIT_USAGE, "no attribute name given (-n)"))?
    };
    // --promotion defaults the lifetime to reboot.
    let lifetime = p.value("lifetime").or(section).or(p.has("promotion").then_some("reboot"));
    let op = NodeAttrOp {
        node: match p.value("node") {
            Some(n) => n.to_string(),
            None => local_node(env)?,
        },
        name,
        scope: scope_of_lifetime(lifetime)?,
        quiet: p.has("quiet"),
        default: p.value("default").map(str::to_string),
    };
    op.run(cmd, store)
}

fn crm_master(
    p: &Parsed,
    store: &dyn NodeAttributeStore,
    env: &BTreeMap<String, String>,
) -> Result<HelperOutput, Failure> {
    let cmd = command(p, &["update"])?;
    let op = NodeAttrOp {
        node: match p.value("node") {
            Some(n) => n.to_string(),
            None => local_node(env)?,
        },
        name: promotion_attribute(&resource_instance(p.value("resource"), env)?),
        // crm_master sets node attributes with lifetime forever unless told otherwise.
        scope: scope_of_lifetime(p.value("lifetime"))?,
        quiet: p.has("quiet"),
        default: None,
    };
    op.run(cmd, store)
}

fn crm_node(p: &Parsed, env: &BTreeMap<String, String>) -> Result<HelperOutput, Failure> {
    if !p.has("name") {
        return Err(failure(EXIT_USAGE, "only -n/--name (the local node name) is available to agents"));
    }
    Ok(HelperOutput::ok(local_node(env)? + "\n"))
}

fn attrd_updater(
    p: &Parsed,
    store: &dyn NodeAttributeStore,
    env: &BTreeMap<String, String>,
) -> Result<HelperOutput, Failure> {
    if p.has("all") {
        return Err(failure(EXIT_USAGE, "--all is not supported for agents"));
    }
    let name = p.value("name").ok_or_else(|| failure(EXIT_USAGE, "no attribute name given (-n)"))?;
    let node = match p.value("node") {
        Some(n) => n.to_string(),
        None => local_node(env)?,
    };
    let store_err = |e: atrium_contract::AttributeError| failure(EXIT_ERROR, e.to_string());
    let commands = ["update", "update-both", "update-delay", "query", "delete", "refresh"];
    let given: Vec<&str> = p.opts.iter().map(|(k, _)| *k).filter(|k| commands.contains(k)).collect();
    match given.as_slice() {
        ["update"] | ["update-both"] => {
            let value = p.value("update").or(p.value("update-both")).unwrap_or_default();
            store.set(&node, name, value).map_err(store_err)?;
        }
        ["delete"] => store.delete(&node, name).map_err(store_err)?,
        ["query"] => {
            let value = store.get(&node, name).map_err(store_err)?;
            let Some(value) = value else {
                return Err(failure(
                    EXIT_NO_SUCH,
                    format!("could not query value of {name}: attribute does not exist"),
                ));
            };
            return Ok(HelperOutput::ok(format!("name=\"{name}\" host=\"{node}\" value=\"{value}\"\n")));
        }
        // Values go straight to the store: there is no dampening to change and nothing
        // pending to resend.
        ["update-delay"] | ["refresh"] => {}
        [] => return Err(failure(EXIT_USAGE, "give a command: -U, -B, -Y, -Q, -D or -R")),
        _ => return Err(failure(EXIT_USAGE, "give only one command")),
    }
    Ok(HelperOutput::ok(String::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use atrium_contract::FileAttributeStore;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: FileAttributeStore,
        env: BTreeMap<String, String>,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = FileAttributeStore::new(dir.path().join("attrs.json"));
        let env = BTreeMap::from([
            (NODE_NAME_VAR.to_string(), "node1".to_string()),
            ("OCF_RESOURCE_INSTANCE".to_string(), "st:1".to_string()),
        ]);
        Fixture { _dir: dir, store, env }
    }

    impl Fixture {
        fn run(&self, argv0: &str, args: &str) -> HelperOutput {
            let args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
            run_helper(argv0, &args, &self.store, &self.env)
        }
        fn get(&self, node: &str, name: &str) -> Option<String> {
            self.store.get(node, name).unwrap()
        }
    }

    #[test]
    fn crm_attribute_promotion_as_stateful_and_shellfuncs_call_it() {
        let f = fixture();
        assert_eq!(f.run("crm_attribute", "--promotion -v 5").code, 0);
        assert_eq!(f.get("node1", "master-st").as_deref(), Some("5"));
        assert_eq!(f.run("/some/dir/crm_attribute", "-p -v 10").code, 0);
        assert_eq!(f.get("node1", "master-st").as_deref(), Some("10"));
        let q = f.run("crm_attribute", "-p -G -q");
        assert_eq!((q.code, q.stdout.as_str()), (0, "10\n"));
        let q = f.run("crm_attribute", "--promotion -G");
        assert_eq!(q.stdout, "scope=status  name=master-st value=10\n");
        assert_eq!(f.run("crm_attribute", "--promotion=other -v 3").code, 0);
        assert_eq!(f.get("node1", "master-other").as_deref(), Some("3"));
        assert_eq!(f.run("crm_attribute", "--promotion -D").code, 0);
        assert_eq!(f.get("node1", "master-st"), None);
        let q = f.run("crm_attribute", "-p -G -q");
        assert_eq!(q.code, EXIT_NO_SUCH, "{q:?}");
    }

    #[test]
    fn crm_attribute_node_attributes() {
        let f = fixture();
        assert_eq!(f.run("crm_attribute", "-N node2 -n master-rsc -l reboot -v 5").code, 0);
        assert_eq!(f.get("node2", "master-rsc").as_deref(), Some("5"));
        let q = f.run("crm_attribute", "--node=node2 --name=master-rsc --lifetime=reboot --query --quiet");
        assert_eq!(q.stdout, "5\n");
        let q = f.run("crm_attribute", "-Nnode2 -nmaster-rsc -lforever -G");
        assert_eq!(q.stdout, "scope=nodes  name=master-rsc value=5\n");
        let q = f.run("crm_attribute", "-N node2 -n missing -G -q -d fallback");
        assert_eq!((q.code, q.stdout.as_str()), (0, "fallback\n"));
        assert_eq!(f.run("crm_attribute", "-N node2 -n master-rsc -l reboot -D").code, 0);
        assert_eq!(f.get("node2", "master-rsc"), None);
        // No -N with a lifetime means the local node.
        assert_eq!(f.run("crm_attribute", "-n pingd -l reboot -v 100").code, 0);
        assert_eq!(f.get("node1", "pingd").as_deref(), Some("100"));
    }

    #[test]
    fn crm_attribute_cluster_options_and_errors() {
        let f = fixture();
        let q = f.run("crm_attribute", "-t crm_config -n stonith-enabled -G -q -d true");
        assert_eq!((q.code, q.stdout.as_str()), (0, "true\n"));
        assert_eq!(f.run("crm_attribute", "-t crm_config -n stonith-enabled -G").code, EXIT_NO_SUCH);
        assert_eq!(f.run("crm_attribute", "-t crm_config -n x -v 1").code, EXIT_ERROR);
        let bad = f.run("crm_attribute", "--bogus");
        assert_eq!(bad.code, EXIT_USAGE);
        assert!(bad.stderr.contains("crm_attribute: unknown option --bogus"), "{bad:?}");
        assert_eq!(f.run("crm_attribute", "-N n -n a -v 1 -D").code, EXIT_USAGE);
        assert_eq!(f.run("crm_attribute", "-N n -v 1").code, EXIT_USAGE);
        let mut no_rsc = fixture();
        no_rsc.env.remove("OCF_RESOURCE_INSTANCE");
        assert_eq!(no_rsc.run("crm_attribute", "-p -v 1").code, EXIT_USAGE);
    }

    #[test]
    fn crm_master_as_ocf_promotion_score_calls_it() {
        let f = fixture();
        assert_eq!(f.run("crm_master", "-l reboot -v 10").code, 0);
        assert_eq!(f.get("node1", "master-st").as_deref(), Some("10"));
        let q = f.run("crm_master", "-l reboot -G -q");
        assert_eq!(q.stdout, "10\n");
        assert_eq!(f.run("crm_master", "-r db -N node3 -v 7").code, 0);
        assert_eq!(f.get("node3", "master-db").as_deref(), Some("7"));
        assert_eq!(f.run("crm_master", "-l reboot -D").code, 0);
        assert_eq!(f.get("node1", "master-st"), None);
    }

    #[test]
    fn attrd_updater_and_crm_node() {
        let f = fixture();
        assert_eq!(f.run("attrd_updater", "-n pingd -U 1000 -d 5s").code, 0);
        let q = f.run("attrd_updater", "-n pingd -Q");
        assert_eq!(q.stdout, "name=\"pingd\" host=\"node1\" value=\"1000\"\n");
        assert_eq!(f.run("attrd_updater", "-n pingd -N node2 -B 7 -d 1").code, 0);
        assert_eq!(f.get("node2", "pingd").as_deref(), Some("7"));
        assert_eq!(f.run("attrd_updater", "-n pingd -D").code, 0);
        assert_eq!(f.run("attrd_updater", "-n pingd -Q").code, EXIT_NO_SUCH);
        assert_eq!(f.run("attrd_updater", "-n pingd").code, EXIT_USAGE);
        let n = f.run("crm_node", "-n");
        assert_eq!((n.code, n.stdout.as_str()), (0, "node1\n"));
        assert_eq!(f.run("crm_node", "-l").code, EXIT_USAGE);
        assert_eq!(f.run("cibadmin", "-Q").code, EXIT_USAGE);
    }

    #[test]
    fn links_point_at_the_helper() {
        let dir = tempfile::tempdir().unwrap();
        let links = dir.path().join("bin");
        install_helper_links(&links, Path::new("/usr/bin/atrium")).unwrap();
        install_helper_links(&links, Path::new("/usr/bin/atrium-new")).unwrap();
        for tool in HelperTool::ALL {
            assert_eq!(std::fs::read_link(links.join(tool.command_name())).unwrap(), Path::new("/usr/bin/atrium-new"));
        }
        assert_eq!(std::fs::read_dir(&links).unwrap().count(), HelperTool::ALL.len());
    }

    #[test]
    fn threads_preparing_the_links_at_once_all_succeed() {
        // Found by the remote-node test: two first actions in one process raced on the links.
        let dir = tempfile::tempdir().unwrap();
        let links = dir.path().join("bin");
        for round in 0..20 {
            let exe = std::path::PathBuf::from(format!("/usr/bin/atrium-{round}"));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let (links, exe) = (links.clone(), exe.clone());
                    std::thread::spawn(move || install_helper_links(&links, &exe))
                })
                .collect();
            for t in threads {
                t.join().unwrap().unwrap();
            }
        }
        assert_eq!(std::fs::read_dir(&links).unwrap().count(), HelperTool::ALL.len(), "no temporary link left behind");
    }
}
