//! A random generator of crm configurations over the syntax atrium-crm supports, kept to
//! what the CIB schema accepts (crmsh refuses to commit a schema-invalid batch).

/// SplitMix64: small, seedable and good enough for choosing test cases.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One generated configuration: its statements, and the fencing levels it wants (a
/// batch gathers those into one `fencing_topology`, which crmsh allows only once).
pub struct Generated {
    pub text: String,
    pub fencing: Vec<String>,
}

const AGENTS: &[&str] = &[
    "ocf:heartbeat:Dummy",
    "Dummy",
    "ocf:heartbeat:IPaddr2",
    "ocf:pacemaker:Stateful",
    "ocf:pacemaker:Dummy",
    "lsb:cron",
    "systemd:sshd",
];
const WORDS: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "ip",
    "port",
    "config",
    "state_dir",
    "x1",
];
const VALUES: &[&str] = &[
    "1",
    "10",
    "-5",
    "on",
    "off",
    "true",
    "UPPER",
    "/var/lib/x",
    "192.168.1.10",
    "a-b_c",
    "x=y",
    "a:b",
    "#hash",
    "with,comma",
    "\"two words\"",
    "'single q'",
    "\"\"",
    "\"say \\\"hi\\\"\"",
];
const ROLES: &[&str] = &[
    "Started",
    "Stopped",
    "Promoted",
    "Unpromoted",
    "Master",
    "Slave",
];
const OP_NAMES: &[&str] = &[
    "monitor",
    "start",
    "stop",
    "promote",
    "demote",
    "migrate_to",
];
const INTERVALS: &[&str] = &["0", "0s", "10", "10s", "30s", "1min", "3600s"];
const SCORES: &[&str] = &[
    "inf",
    "-inf",
    "+inf",
    "INFINITY",
    "-INFINITY",
    "100",
    "-100",
    "0",
    "5000",
];

fn pairs(rng: &mut Rng, names: &[&str], max: usize) -> String {
    let n = 1 + rng.below(max);
    let mut used = Vec::new();
    let mut out = Vec::new();
    for _ in 0..n {
        let name = *rng.pick(names);
        if used.contains(&name) {
            continue;
        }
        used.push(name);
        out.push(format!("{name}={}", rng.pick(VALUES)));
    }
    out.join(" ")
}

fn expression(rng: &mut Rng, p: &str) -> String {
    let attr = *rng.pick(&["#uname", "#id", "#kind", "pingd", "site", "rack"]);
    match rng.below(7) {
        0 => format!("defined {attr}"),
        1 => format!("not_defined {attr}"),
        2 => format!(
            "date {} 2020-01-0{}",
            rng.pick(&["gt", "lt"]),
            1 + rng.below(9)
        ),
        // crmsh wants at least two fields in a range or date_spec.
        3 => match rng.below(3) {
            0 => format!(
                "date {} start=2020-01-0{} end=2021-06-30",
                rng.pick(&["in_range", "in"]),
                1 + rng.below(9)
            ),
            1 => format!(
                "date in_range start=2020-02-0{} {}={}",
                1 + rng.below(9),
                // crmsh 4.4.1 refuses days/hours/... here and yeardays below.
                rng.pick(&["years", "months"]),
                1 + rng.below(12)
            ),
            _ => format!(
                "date {} hours=9-17 {}",
                rng.pick(&["date_spec", "spec"]),
                rng.pick(&["weekdays=1-5", "monthdays=1-15"])
            ),
        },
        _ => {
            let op = *rng.pick(&["lt", "gt", "lte", "gte", "eq", "ne"]);
            let typed = if rng.chance(40) {
                format!(
                    "{}:{op}",
                    rng.pick(&["string", "integer", "number", "version"])
                )
            } else {
                op.to_string()
            };
            let value = match rng.below(3) {
                0 => format!("{p}n{}", rng.below(3)),
                1 => rng.below(100).to_string(),
                _ => "remote".into(),
            };
            format!("{attr} {typed} {value}")
        }
    }
}

/// Resource references for a constraint: two plain ones, or sets in brackets.
fn members(rng: &mut Rng, rscs: &[String], qualifiers: &[&str]) -> String {
    let q = |rng: &mut Rng| {
        if rng.chance(30) {
            format!(":{}", rng.pick(qualifiers))
        } else {
            String::new()
        }
    };
    if rng.chance(50) {
        let a = rng.pick(rscs).clone();
        let b = rng.pick(rscs).clone();
        // crmsh's `_rsc_set_` marker turns the pair into one resource set.
        let marker = if rng.chance(10) { "_rsc_set_ " } else { "" };
        return format!("{marker}{a}{} {b}{}", q(rng), q(rng));
    }
    let mut items = Vec::new();
    for _ in 0..2 + rng.below(3) {
        match rng.below(3) {
            0 => items.push(format!("{}{}", rng.pick(rscs), q(rng))),
            kind => {
                let square = kind == 2;
                let mut inner = Vec::new();
                let shared = q(rng);
                for _ in 0..1 + rng.below(3) {
                    inner.push(format!("{}{shared}", rng.pick(rscs)));
                }
                if square && rng.chance(30) {
                    inner.push("sequential=true".into());
                }
                let (open, close) = if square { ("[", "]") } else { ("(", ")") };
                items.push(format!("{open} {} {close}", inner.join(" ")));
            }
        }
    }
    if items.len() == 2
        && !items
            .iter()
            .any(|i| i.starts_with('(') || i.starts_with('['))
    {
        items.push(rng.pick(rscs).clone());
    }
    items.join(" ")
}

/// Generates configuration number `index`; every id starts with `g<index>` so that many
/// configurations can share one file. `defaults` adds the default-id property and
/// defaults sets (only one configuration per file may, as they would merge).
pub fn configuration(rng: &mut Rng, index: usize, defaults: bool) -> Generated {
    let p = format!("g{index}");
    let mut lines: Vec<String> = Vec::new();
    let mut fencing = Vec::new();
    let cont = |rng: &mut Rng| if rng.chance(30) { " \\\n\t" } else { " " };

    let nodes: Vec<String> = (0..rng.below(3)).map(|k| format!("{p}n{k}")).collect();
    for (k, n) in nodes.iter().enumerate() {
        let mut s = String::from("node ");
        if rng.chance(30) {
            s.push_str(&format!("$id={}{k} ", 1000 + index));
        }
        s.push_str(n);
        if rng.chance(30) {
            s.push_str(&format!(":{}", rng.pick(&["member", "remote", "ping"])));
        }
        if rng.chance(50) {
            let attrs = if rng.chance(30) {
                "standby=on".to_string()
            } else {
                pairs(rng, WORDS, 2)
            };
            let id = if rng.chance(20) {
                format!("$id={n}-attrs ")
            } else {
                String::new()
            };
            s.push_str(&format!("{}attributes {id}{attrs}", cont(rng)));
        }
        if rng.chance(40) {
            let id = if rng.chance(20) {
                format!("$id={n}-util ")
            } else {
                String::new()
            };
            s.push_str(&format!(
                "{}utilization {id}capacity={}",
                cont(rng),
                1 + rng.below(4)
            ));
        }
        lines.push(s);
    }

    let n_prims = 2 + rng.below(4);
    let mut prims = Vec::new();
    let mut stonith = Vec::new();
    for k in 0..n_prims {
        let id = format!("{p}r{k}");
        let fence = rng.chance(15);
        let agent = if fence {
            "stonith:fence_dummy"
        } else {
            rng.pick(AGENTS)
        };
        let mut s = format!("primitive {id} {agent}");
        for _ in 0..rng.below(3) {
            let kw = *rng.pick(&["params", "meta", "utilization"]);
            let body = match kw {
                "meta" => pairs(
                    rng,
                    &[
                        "target-role",
                        "is-managed",
                        "resource-stickiness",
                        "priority",
                        "failure-timeout",
                    ],
                    3,
                ),
                "utilization" => format!(
                    "cpu={} memory={}",
                    1 + rng.below(8),
                    64 * (1 + rng.below(8))
                ),
                _ => pairs(rng, WORDS, 3),
            };
            let id_part = if rng.chance(10) {
                format!("$id={id}-{kw}-set{} ", rng.below(1000))
            } else {
                String::new()
            };
            s.push_str(&format!("{}{kw} {id_part}{body}", cont(rng)));
        }
        for op_no in 0..rng.below(4) {
            let name = *rng.pick(OP_NAMES);
            let mut op = format!("op {name}");
            let extra = rng.below(5);
            // crmsh rejects instance attributes on an op without an interval (it appends
            // interval=0 after them, then complains about the order); Atrium accepts it.
            if extra < 2 || rng.chance(85) {
                op.push_str(&format!(" interval={}", rng.pick(INTERVALS)));
            }
            if rng.chance(70) {
                op.push_str(&format!(
                    " timeout={}",
                    rng.pick(&["20", "20s", "60s", "2min"])
                ));
            }
            if rng.chance(20) {
                op.push_str(&format!(" role={}", rng.pick(ROLES)));
            }
            if rng.chance(20) {
                op.push_str(&format!(
                    " on-fail={}",
                    rng.pick(&["ignore", "block", "stop", "restart", "fence", "standby"])
                ));
            }
            if rng.chance(10) {
                op.push_str(" enabled=false");
            }
            if rng.chance(10) {
                op.push_str(" start-delay=5s record-pending=true");
            }
            if rng.chance(5) {
                op.push_str(" description=\"checks it\"");
            }
            match extra {
                0 => op.push_str(" OCF_CHECK_LEVEL=10"),
                1 if rng.chance(20) => {
                    op.push_str(&format!(" op_params $id={id}-op{} depth=0", op_no))
                }
                1 => op.push_str(" op_params depth=0"),
                _ => {}
            }
            if rng.chance(15) {
                op.push_str(" op_meta timeout=99");
            }
            s.push_str(&format!("{}{op}", cont(rng)));
        }
        lines.push(s);
        if fence {
            stonith.push(id.clone());
        }
        prims.push(id);
    }

    // Containers take members from the front; what is left stays top-level.
    let mut rscs: Vec<String> = Vec::new();
    let mut free: Vec<String> = prims
        .iter()
        .filter(|r| !stonith.contains(r))
        .cloned()
        .collect();
    if free.len() >= 2 && rng.chance(50) {
        let take = 1 + rng.below(free.len() - 1);
        let members: Vec<String> = free.drain(..take).collect();
        let g = format!("{p}grp");
        let mut meta = if rng.chance(40) {
            format!(" meta target-role={}", rng.pick(&["Started", "Stopped"]))
        } else {
            String::new()
        };
        if rng.chance(15) {
            meta = format!(" params {}{meta}", pairs(rng, WORDS, 2));
        }
        lines.push(format!("group {g} {}{meta}", members.join(" ")));
        if rng.chance(40) {
            let c = format!("{p}cl");
            let mut meta = if rng.chance(50) {
                " meta clone-max=2 interleave=true".to_string()
            } else {
                String::new()
            };
            if rng.chance(15) {
                meta = format!(" params {}{meta}", pairs(rng, WORDS, 2));
            }
            lines.push(format!("clone {c} {g}{meta}"));
            rscs.push(c);
        } else {
            rscs.push(g);
        }
    }
    if let Some(child) = free.first().cloned().filter(|_| rng.chance(50)) {
        free.remove(0);
        let c = format!("{p}pc");
        lines.push(match rng.below(3) {
            0 => format!(
                "{} {c} {child} meta master-max=1 notify=true",
                rng.pick(&["ms", "master"])
            ),
            1 => format!("clone {c} {child} meta promotable=true promoted-max=1"),
            _ => format!("clone {c} {child}"),
        });
        rscs.push(c);
    }
    rscs.extend(free);
    rscs.extend(stonith.iter().cloned());

    for k in 0..rng.below(4) {
        let id = format!("{p}loc{k}");
        let rsc = rng.pick(&rscs).clone();
        let mut s = format!("location {id} {rsc}");
        let node_form = rng.chance(40);
        if node_form && rng.chance(30) {
            s.push_str(&format!(
                " role={}",
                rng.pick(&["Promoted", "Unpromoted", "Started"])
            ));
        }
        if rng.chance(20) {
            s.push_str(&format!(
                " resource-discovery={}",
                rng.pick(&["always", "never", "exclusive"])
            ));
        }
        if node_form {
            let node = nodes.first().cloned().unwrap_or_else(|| format!("{p}n0"));
            s.push_str(&format!(" {}: {node}", rng.pick(SCORES)));
        } else {
            for rule_no in 0..1 + rng.below(2) {
                let mut r = String::from("rule");
                if rng.chance(15) {
                    r.push_str(&format!(" $id={id}-r{rule_no}"));
                }
                if rng.chance(20) {
                    r.push_str(&format!(
                        " $role={}",
                        rng.pick(&["Promoted", "Unpromoted", "Started", "Master", "Slave"])
                    ));
                }
                let score = if rng.chance(20) {
                    "pingd".to_string()
                } else {
                    rng.pick(SCORES).to_string()
                };
                r.push_str(&format!(" {score}: {}", expression(rng, &p)));
                let joiner = *rng.pick(&["and", "or"]);
                for _ in 0..rng.below(3) {
                    r.push_str(&format!(" {joiner} {}", expression(rng, &p)));
                }
                s.push_str(&format!("{}{r}", cont(rng)));
            }
        }
        lines.push(s);
    }
    for k in 0..rng.below(3) {
        let members = members(
            rng,
            &rscs,
            &["Started", "Promoted", "Unpromoted", "Master", "Slave"],
        );
        let pair = members.split(' ').count() == 2;
        let keyword = if rng.chance(10) {
            "collocation"
        } else {
            "colocation"
        };
        let mut s = format!("{keyword} {p}col{k} {}: {members}", rng.pick(SCORES));
        // The schema allows node-attribute only on two-resource colocations.
        if pair && rng.chance(15) {
            s.push_str(" node-attribute=site");
        }
        lines.push(s);
    }
    for k in 0..rng.below(3) {
        let kind = if rng.chance(50) {
            rng.pick(&["Mandatory", "Optional", "Serialize"])
                .to_string()
        } else {
            rng.pick(SCORES).to_string()
        };
        let mut s = format!(
            "order {p}ord{k} {kind}: {}",
            members(rng, &rscs, &["start", "stop", "promote", "demote"])
        );
        if rng.chance(25) {
            s.push_str(&format!(" symmetrical={}", rng.pick(&["true", "false"])));
        }
        lines.push(s);
    }
    if rng.chance(30) {
        lines.push(format!(
            "property $id={p}-props {p}-opt=x {p}-other=\"a b\""
        ));
    }
    if rng.chance(20) {
        lines.push(format!("property {p}-props2: {p}-opt=1"));
    }
    if rng.chance(20) {
        lines.push(format!(
            "rsc_defaults $id={p}-rscd resource-stickiness={}",
            rng.below(200)
        ));
    }
    if rng.chance(20) {
        lines.push(format!(
            "op_defaults $id={p}-opd timeout={}s",
            10 + rng.below(100)
        ));
    }
    if defaults {
        lines.push(
            "property stonith-enabled=false no-quorum-policy=ignore placement-strategy=balanced"
                .into(),
        );
        lines.push("rsc_defaults resource-stickiness=100 migration-threshold=3".into());
        lines.push("op_defaults timeout=60s record-pending=true".into());
    }
    if rng.chance(20) {
        let colon = if rng.chance(50) { ":" } else { "" };
        lines.push(format!(
            "tag {p}tag{colon} {}",
            rscs.iter().take(2).cloned().collect::<Vec<_>>().join(" ")
        ));
    }
    if !stonith.is_empty() && !nodes.is_empty() {
        for n in &nodes {
            let mut level = format!("{n}:");
            for d in &stonith {
                level.push(' ');
                level.push_str(d);
            }
            if stonith.len() >= 2 && rng.chance(50) {
                level = format!("{n}: {}", stonith.join(","));
                if rng.chance(50) {
                    // Mixed: a two-device level, then a one-device level.
                    level = format!("{n}: {},{} {}", stonith[0], stonith[1], stonith[0]);
                }
            }
            fencing.push(level);
        }
    }
    // Comments and blank lines between statements are ignored by both parsers.
    let mut text = String::new();
    for line in lines {
        if rng.chance(10) {
            text.push_str("# a comment: primitive x Dummy\n\n");
        }
        text.push_str(&line);
        text.push('\n');
    }
    Generated { text, fencing }
}

/// A batch of configurations `first..first+count` in one crm file.
pub fn batch(seed: u64, first: usize, count: usize) -> String {
    let mut out = String::new();
    let mut fencing = Vec::new();
    for index in first..first + count {
        let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let g = configuration(&mut rng, index, index == first);
        out.push_str(&g.text);
        fencing.extend(g.fencing);
    }
    if !fencing.is_empty() {
        out.push_str(&format!("fencing_topology {}\n", fencing.join(" ")));
    }
    out
}
