//! Checks atrium-crm's crm -> XML against crmsh 4.4.1 itself, run offline on a file CIB:
//! `cibadmin --empty > c.xml; CIB_file=c.xml crm -F configure load update f.crm;
//! CIB_file=c.xml cibadmin -Q`. Elements, attributes, values and ids must match
//! (attribute order and whitespace are normalised away).
//!
//! The seed's examples and `ATRIUM_CRMSH_CASES` generated configurations (default 300)
//! are checked, batched into files because each crmsh call takes about a second.

mod common;

use std::process::Command;

use common::generate;

/// Configurations per crmsh call.
const BATCH: usize = 30;

/// Syntax the generated configurations must exercise between them.
const FEATURES: &[&str] = &[
    "node $id=",
    ":remote",
    ":member",
    "attributes standby=on",
    "attributes $id=",
    "utilization $id=",
    "primitive",
    " Dummy",
    "stonith:",
    "lsb:",
    "systemd:",
    "params $id=",
    " meta ",
    "utilization cpu=",
    "op monitor",
    "role=Promoted",
    "on-fail=",
    "OCF_CHECK_LEVEL",
    "op_params",
    "op_meta",
    "description=",
    "group",
    "clone",
    "ms ",
    "master ",
    "promotable=true",
    "location",
    "role=",
    "resource-discovery=",
    "rule $id=",
    "rule $role=",
    "pingd:",
    "defined ",
    "not_defined ",
    "string:",
    "integer:",
    "number:",
    "version:",
    "#uname",
    "#id",
    "#kind",
    "date gt",
    "date in_range start=",
    "date in start=",
    "years=",
    "date date_spec hours=",
    "date spec",
    "date lt",
    " and ",
    " or ",
    "colocation",
    "collocation",
    "node-attribute=",
    "( ",
    "[ ",
    "sequential=true",
    "order",
    "Serialize:",
    "Optional:",
    ":promote",
    "symmetrical=",
    "property $id=",
    "-props2:",
    "property stonith-enabled",
    "rsc_defaults",
    "op_defaults",
    "fencing_topology",
    "_rsc_set_ ",
    ",",
    "tag",
    "inf:",
    "-inf:",
    "+inf:",
    "INFINITY:",
    "\\\n\t",
    "# a comment",
    "\"two words\"",
    "'single q'",
    "\\\"hi",
];

fn require_crmsh() {
    for tool in ["crm", "cibadmin"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "`{tool}` not found: these tests compare against crmsh 4.4.1; install it with \
             `apt-get install crmsh pacemaker-cli-utils` (Debian 12)"
        );
    }
}

/// A scratch directory with crmsh's environment: stubs for `crm_verify` and `crm_mon`
/// (they run the whole scheduler, which can take minutes on random constraint tangles
/// and is not what is compared) and a crmsh config that shows passwords unmasked.
struct Crmsh {
    dir: tempfile::TempDir,
}

impl Crmsh {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for tool in ["crm_verify", "crm_mon"] {
            let stub = bin.join(tool);
            std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
            std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        std::fs::write(
            dir.path().join("crm.conf"),
            "[core]\nobscure_pattern = no-such-parameter\n",
        )
        .unwrap();
        Crmsh { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.env("PATH", path)
            .env("CIB_file", self.path("cib.xml"))
            .env("CRM_CONFIG_FILE", self.path("crm.conf"));
        c
    }

    /// Loads `crm_text` into an empty file CIB and returns the resulting CIB.
    fn load(&self, crm_text: &str) -> String {
        let empty = Command::new("cibadmin")
            .arg("--empty")
            .output()
            .expect("run cibadmin --empty");
        assert!(empty.status.success(), "cibadmin --empty failed");
        std::fs::write(self.path("cib.xml"), &empty.stdout).unwrap();
        self.update(crm_text, 2)
    }

    /// `crm configure load update` into the current file CIB, which then has `epoch`.
    fn update(&self, crm_text: &str, epoch: u32) -> String {
        let crm_file = self.path("input.crm");
        std::fs::write(&crm_file, crm_text).unwrap();
        // -F commits despite warnings (no STONITH, unknown agents and nodes); the CIB
        // schema is still enforced by cibadmin.
        let load = self
            .command("crm")
            .args(["-F", "configure", "load", "update"])
            .arg(&crm_file)
            .output()
            .expect("run crm");
        // Agent meta-data complaints are expected offline; keep the rest for failure messages.
        let stderr: String = String::from_utf8_lossy(&load.stderr)
            .lines()
            .filter(|l| {
                ![
                    "meta-data",
                    "no such resource agent",
                    "is not known",
                    "unknown attribute",
                    "warning",
                ]
                .iter()
                .any(|n| l.contains(n))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let query = self
            .command("cibadmin")
            .arg("-Q")
            .output()
            .expect("run cibadmin -Q");
        let cib = String::from_utf8(query.stdout).unwrap();
        assert!(
            !stderr.contains("parsing '")
                && !stderr.contains("did not pass schema validation")
                && cib.contains(&format!("epoch=\"{epoch}\"")),
            "crmsh did not commit the configuration:\n{stderr}\n--- input\n{crm_text}"
        );
        cib
    }

    /// `crm configure show` of the loaded CIB.
    fn show(&self) -> String {
        let out = self
            .command("crm")
            .args(["configure", "show"])
            .output()
            .expect("run crm configure show");
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Statements of crm text, continuation lines joined, comments dropped, sorted; `$id=`
/// words and `string:` types (which `crm configure show` leaves out) removed.
fn statements(text: &str) -> Vec<String> {
    let joined = text.replace(" \\\n\t", " ");
    let mut out: Vec<String> = joined
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(drop_descriptions)
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.starts_with("$id="))
                .map(|w| w.strip_prefix("string:").unwrap_or(w))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    out.sort();
    out
}

/// crmsh 4.4.1's `show` repeats an op's `description="..."` on that op and on the ops
/// after it, so descriptions (checked in the XML) are left out of the text comparison.
fn drop_descriptions(line: &str) -> String {
    let mut out = line.to_string();
    while let Some(start) = out.find(" description=\"") {
        let value = start + " description=\"".len();
        let end = out[value..]
            .find('"')
            .map_or(out.len(), |close| value + close + 1);
        out.replace_range(start..end, "");
    }
    out
}

/// atrium's crm text for crmsh's XML must be what `crm configure show` prints, but for
/// the order of statements (crmsh sorts them; atrium keeps the CIB's order).
fn assert_same_statements(ours: &str, shown: &str, label: &str) {
    let (ours, theirs) = (statements(ours), statements(shown));
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(
            a, b,
            "{label}: atrium's crm text differs from crm configure show"
        );
    }
    assert_eq!(ours.len(), theirs.len(), "{label}: statement counts differ");
}

fn compare(crm_text: &str, label: &str) {
    let crmsh = Crmsh::new();
    let cib = crmsh.load(crm_text);
    let theirs = common::normalised_configuration(&cib);
    let config = atrium_crm::parse(crm_text, label)
        .unwrap_or_else(|e| panic!("atrium cannot parse {label}: {e}"));
    let ours = common::normalised_configuration(&atrium_crm::to_xml(&config));
    if let Some(diff) = common::first_difference(&ours, &theirs) {
        panic!("{label}: atrium and crmsh disagree\n{diff}");
    }
    // The other direction: crmsh's own XML read back and rendered again is unchanged.
    let reread = atrium_crm::from_xml(&cib)
        .unwrap_or_else(|e| panic!("{label}: cannot read crmsh's XML: {e}"));
    let again = common::normalised_configuration(&atrium_crm::to_xml(&reread));
    if let Some(diff) = common::first_difference(&again, &theirs) {
        panic!("{label}: crmsh XML -> atrium -> XML changed it\n{diff}");
    }
    // crmsh's own printer: `crm configure show` parses to the same configuration, and
    // atrium prints the same statements.
    let shown = crmsh.show();
    assert_same_statements(&atrium_crm::to_crm(&reread), &shown, label);
    let from_show = atrium_crm::parse(&shown, "crm-configure-show.crm")
        .unwrap_or_else(|e| panic!("{label}: {e}\n{shown}"));
    // crmsh sorts what it shows and leaves some things out (node set `$id=`s, the
    // `string:` type), so objects are compared in id order and without those here.
    let loose = |conf| common::without_shown_defaults(common::sorted_objects(conf));
    let again = loose(common::normalised_configuration(&atrium_crm::to_xml(
        &from_show,
    )));
    if let Some(diff) = common::first_difference(&again, &loose(theirs)) {
        panic!("{label}: `crm configure show` parsed by atrium gives other XML\n{diff}");
    }
}

#[test]
fn seed_examples_match_crmsh() {
    require_crmsh();
    let text = include_str!("fixtures/seed_complete.crm");
    compare(text, "seed_complete.crm");
}

#[test]
fn feature_tour_matches_crmsh() {
    require_crmsh();
    compare(include_str!("fixtures/features.crm"), "features.crm");
}

#[test]
fn merge_into_cib_matches_load_update() {
    require_crmsh();
    let base = include_str!("fixtures/seed_complete.crm");
    let update = "primitive rscDummy ocf:heartbeat:Dummy params state=/tmp/x meta target-role=Stopped
primitive extra ocf:pacemaker:Dummy op monitor interval=10s
property placement-strategy=utilization stonith-enabled=false
location loc2 Host-rsc1 rule 100: #uname eq vm02
node XXX attributes standby=on
node YYY utilization capacity=2
primitive vm02-remote ocf:pacemaker:remote params server=vm02 port=3121 op monitor interval=3 timeout=20
rsc_defaults resource-stickiness=1
";
    let crmsh = Crmsh::new();
    crmsh.load(base);
    let theirs = common::normalised_configuration(&crmsh.update(update, 3));
    let mut ours = atrium_crm::EMPTY_CIB.to_string();
    for (text, label) in [(base, "base.crm"), (update, "update.crm")] {
        ours = atrium_crm::merge_into_cib(&ours, &atrium_crm::parse(text, label).unwrap()).unwrap();
    }
    let ours = common::normalised_configuration(&ours);
    if let Some(diff) = common::first_difference(&ours, &theirs) {
        panic!("merge_into_cib and `crm configure load update` disagree\n{diff}");
    }
}

#[test]
fn generated_configurations_match_crmsh() {
    require_crmsh();
    let cases: usize = std::env::var("ATRIUM_CRMSH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let seed: u64 = std::env::var("ATRIUM_CRMSH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let batches: Vec<(usize, usize)> = (0..cases)
        .step_by(BATCH)
        .map(|first| (first, BATCH.min(cases - first)))
        .collect();
    if cases >= 300 {
        let corpus: String = batches
            .iter()
            .map(|&(first, count)| generate::batch(seed, first, count))
            .collect();
        let missing: Vec<&&str> = FEATURES.iter().filter(|f| !corpus.contains(**f)).collect();
        assert!(
            missing.is_empty(),
            "the generated configurations never use {missing:?}"
        );
    }
    // Two crmsh processes at a time: the machine has two cores.
    let failures: Vec<String> = batches
        .chunks(2)
        .flat_map(|pair| {
            let handles: Vec<_> = pair
                .iter()
                .map(|&(first, count)| {
                    std::thread::spawn(move || {
                        let text = generate::batch(seed, first, count);
                        let label = format!("generated-{first}.crm (seed {seed})");
                        std::panic::catch_unwind(|| compare(&text, &label))
                            .err()
                            .map(|e| {
                                let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
                                format!("{msg}\n--- input\n{text}")
                            })
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} batches differ; first:\n{}",
        failures.len(),
        batches.len(),
        failures[0]
    );
    eprintln!(
        "{cases} generated configurations match crmsh ({} crmsh calls)",
        batches.len()
    );
}
