//! Random CIB generation for differential testing against crm_simulate and for benchmarks.
//! Written with Pacemaker 2.1 option names so crm_simulate 2.1.5 reads them the same way.
// Shared by the differential test and the benchmark, each of which uses only part of it.
#![allow(dead_code)]

/// xorshift64*: small, deterministic, no dependencies.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

fn header(props: &[(&str, &str)]) -> String {
    let mut s = String::from("<cib admin_epoch=\"0\" epoch=\"1\" num_updates=\"1\" have-quorum=\"1\" validate-with=\"pacemaker-3.0\">\n  <configuration>\n    <crm_config>\n      <cluster_property_set id=\"opts\">\n");
    for (k, v) in props {
        s.push_str(&format!("        <nvpair id=\"opt-{k}\" name=\"{k}\" value=\"{v}\"/>\n"));
    }
    s.push_str("      </cluster_property_set>\n    </crm_config>\n");
    s
}

fn node_state(id: usize, name: &str, online: bool, lrm: &str) -> String {
    let attrs = if online {
        "in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\""
    } else {
        "in_ccm=\"false\" crmd=\"offline\" join=\"down\" expected=\"down\""
    };
    format!("    <node_state id=\"{id}\" uname=\"{name}\" {attrs}>\n      <lrm id=\"{id}\"><lrm_resources>\n{lrm}      </lrm_resources></lrm>\n    </node_state>\n")
}

/// Parameter digests Pacemaker 2.1 computes for a parameterless Dummy: its start, and its 10s
/// monitor. Without them crm_simulate would restart every resource for a "definition change".
const START_DIGEST: &str = "f2317cad3d54cec5d7d7aa7d0bf35cf8";
const MONITOR_DIGEST: &str = "4811cef7f7f94e3a35a70be7916cb2fd";

fn op(rsc: &str, task: &str, interval: u64, rc: i32, call: usize, node: &str) -> String {
    let target = if task == "monitor" && interval == 0 { 7 } else { 0 };
    let digest = if interval > 0 { MONITOR_DIGEST } else { START_DIGEST };
    format!(
        "          <lrm_rsc_op id=\"{rsc}_{task}_{interval}_{call}\" operation=\"{task}\" interval=\"{interval}\" rc-code=\"{rc}\" op-status=\"0\" call-id=\"{call}\" last-rc-change=\"1700000000\" crm_feature_set=\"3.16.1\" transition-key=\"1:1:{target}:00000000-0000-0000-0000-000000000000\" transition-magic=\"0:{rc};1:1:{target}:00000000-0000-0000-0000-000000000000\" on_node=\"{node}\" op-digest=\"{digest}\"/>\n"
    )
}

fn primitive(id: &str, util: Option<(u32, u32)>, meta: &[(&str, String)]) -> String {
    let mut s = format!("      <primitive id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\n");
    if !meta.is_empty() {
        s.push_str(&format!("        <meta_attributes id=\"{id}-meta\">\n"));
        for (k, v) in meta {
            s.push_str(&format!("          <nvpair id=\"{id}-meta-{k}\" name=\"{k}\" value=\"{v}\"/>\n"));
        }
        s.push_str("        </meta_attributes>\n");
    }
    if let Some((cpu, mem)) = util {
        s.push_str(&format!("        <utilization id=\"{id}-util\"><nvpair id=\"{id}-u-cpu\" name=\"cpu\" value=\"{cpu}\"/><nvpair id=\"{id}-u-mem\" name=\"mem\" value=\"{mem}\"/></utilization>\n"));
    }
    s.push_str(&format!("        <operations><op id=\"{id}-mon\" name=\"monitor\" interval=\"10s\"/></operations>\n      </primitive>\n"));
    s
}

/// A random small cluster: nodes (some offline), primitives (some in a group, some cloned),
/// location/colocation/order constraints, utilization with a placement strategy, running
/// resources and failed monitors with fail counts. No migration-threshold: how fail counts
/// reach it changed between Pacemaker 2.1 and 3.x (the coloc-many-one, rec-rsc-1 and simple4
/// regression cases), and Atrium follows 3.x.
pub fn random_cib(seed: u64) -> String {
    let mut r = Rng::new(seed);
    let n_nodes = 2 + r.below(4);
    let n_prims = 1 + r.below(7);
    let strategy = *r.pick(&["default", "default", "utilization", "minimal", "balanced"]);
    let stickiness = *r.pick(&["0", "0", "50", "100", "INFINITY"]);
    let use_util = strategy != "default";
    let scores = ["INFINITY", "-INFINITY", "100", "50", "10", "-10", "0", "200"];
    let mut xml = header(&[
        ("stonith-enabled", "false"),
        ("no-quorum-policy", "ignore"),
        ("placement-strategy", strategy),
        ("symmetric-cluster", if r.chance(15) { "false" } else { "true" }),
    ]);
    let names: Vec<String> = (1..=n_nodes).map(|i| format!("node{i}")).collect();
    xml.push_str("    <nodes>\n");
    for (i, n) in names.iter().enumerate() {
        xml.push_str(&format!("      <node id=\"{}\" uname=\"{n}\">", i + 1));
        if use_util {
            // Every node defines every capacity: missing capacities differ between 2.1 and 3.x.
            xml.push_str(&format!(
                "<utilization id=\"{n}-u\"><nvpair id=\"{n}-cpu\" name=\"cpu\" value=\"{}\"/><nvpair id=\"{n}-mem\" name=\"mem\" value=\"{}\"/></utilization>",
                r.below(5),
                r.below(4) * 512
            ));
        }
        xml.push_str("</node>\n");
    }
    xml.push_str("    </nodes>\n    <resources>\n");
    let prims: Vec<String> = (1..=n_prims).map(|i| format!("rsc{i}")).collect();
    let group_len = if n_prims >= 3 && r.chance(40) { 2 + r.below(2) } else { 0 };
    let cloned = n_prims > group_len && r.chance(30);
    let mut top: Vec<String> = Vec::new();
    let util_of = |r: &mut Rng| if use_util { Some((r.below(3) as u32, (r.below(3) * 256) as u32)) } else { None };
    for (i, p) in prims.iter().enumerate() {
        if i < group_len {
            if i == 0 {
                xml.push_str("      <group id=\"grp\">\n");
                top.push("grp".into());
            }
            xml.push_str(&primitive(p, util_of(&mut r), &[]));
            if i + 1 == group_len {
                xml.push_str("      </group>\n");
            }
            continue;
        }
        if cloned && i == n_prims - 1 {
            xml.push_str(&format!("      <clone id=\"{p}-clone\">\n"));
            xml.push_str(&primitive(p, None, &[]));
            xml.push_str(&format!("        <meta_attributes id=\"{p}-clone-meta\"><nvpair id=\"{p}-cm\" name=\"clone-max\" value=\"{}\"/></meta_attributes>\n      </clone>\n", 1 + r.below(n_nodes)));
            top.push(format!("{p}-clone"));
            continue;
        }
        let mut meta = Vec::new();
        if r.chance(30) {
            meta.push(("priority", r.below(5).to_string()));
        }
        xml.push_str(&primitive(p, util_of(&mut r), &meta));
        top.push(p.clone());
    }
    xml.push_str("    </resources>\n    <constraints>\n");
    for i in 0..r.below(n_prims + 2) {
        let t = r.pick(&top).clone();
        let n = r.pick(&names).clone();
        xml.push_str(&format!("      <rsc_location id=\"loc{i}\" rsc=\"{t}\" node=\"{n}\" score=\"{}\"/>\n", r.pick(&scores)));
    }
    let plain: Vec<&String> = top.iter().filter(|t| !t.ends_with("-clone")).collect();
    if plain.len() >= 2 {
        for i in 0..r.below(3) {
            let a = r.pick(&plain).to_string();
            let b = r.pick(&plain).to_string();
            if a != b {
                let s = r.pick(&["INFINITY", "-INFINITY", "100", "-100"]);
                xml.push_str(&format!("      <rsc_colocation id=\"col{i}\" rsc=\"{a}\" with-rsc=\"{b}\" score=\"{s}\"/>\n"));
            }
        }
        // Orderings in both directions between two resources form a loop, which Pacemaker
        // turns into an invalid transition; keep each pair one way.
        let mut ordered: Vec<(String, String)> = Vec::new();
        for i in 0..r.below(3) {
            let a = r.pick(&plain).to_string();
            let b = r.pick(&plain).to_string();
            if a != b && !ordered.contains(&(b.clone(), a.clone())) {
                ordered.push((a.clone(), b.clone()));
                let k = r.pick(&["Mandatory", "Optional"]);
                xml.push_str(&format!("      <rsc_order id=\"ord{i}\" first=\"{a}\" then=\"{b}\" kind=\"{k}\"/>\n"));
            }
        }
    }
    xml.push_str("    </constraints>\n");
    xml.push_str(&format!("    <rsc_defaults><meta_attributes id=\"rd\"><nvpair id=\"rd-s\" name=\"resource-stickiness\" value=\"{stickiness}\"/></meta_attributes></rsc_defaults>\n"));
    xml.push_str("  </configuration>\n  <status>\n");
    let online: Vec<bool> = (0..n_nodes).map(|_| !r.chance(15)).collect();
    // Each non-clone primitive may run on one online node; some have a failed monitor there.
    let mut lrm = vec![String::new(); n_nodes];
    let mut fails = vec![String::new(); n_nodes];
    let group_node = r.below(n_nodes);
    for (i, p) in prims.iter().enumerate() {
        if cloned && i == n_prims - 1 {
            continue;
        }
        // Group members that run share a node, as the cluster would have placed them.
        let ni = if i < group_len { group_node } else { r.below(n_nodes) };
        if !online[ni] || !r.chance(50) {
            continue;
        }
        let node = &names[ni];
        let mut ops = format!("        <lrm_resource id=\"{p}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\n");
        ops.push_str(&op(p, "start", 0, 0, 10, node));
        if r.chance(20) {
            ops.push_str(&op(p, "monitor", 10000, 1, 11, node));
            fails[ni].push_str(&format!("<nvpair id=\"fc-{p}-{node}\" name=\"fail-count-{p}#monitor_10000\" value=\"1\"/>"));
        } else {
            ops.push_str(&op(p, "monitor", 10000, 0, 11, node));
        }
        ops.push_str("        </lrm_resource>\n");
        lrm[ni].push_str(&ops);
    }
    for (i, n) in names.iter().enumerate() {
        let mut st = node_state(i + 1, n, online[i], &lrm[i]);
        if !fails[i].is_empty() {
            st = st.replace(
                "      <lrm id=",
                &format!("      <transient_attributes id=\"{}\"><instance_attributes id=\"ta-{n}\">{}</instance_attributes></transient_attributes>\n      <lrm id=", i + 1, fails[i]),
            );
        }
        xml.push_str(&st);
    }
    xml.push_str("  </status>\n</cib>\n");
    xml
}

/// A fresh cluster for benchmarking: `nodes` online nodes with no history (so every resource
/// is probed everywhere), `resources` primitives with a monitor, some in groups of three, one
/// location preference per ten resources.
pub fn bench_cib(nodes: usize, resources: usize) -> String {
    let mut xml = header(&[("stonith-enabled", "false"), ("no-quorum-policy", "ignore")]);
    xml.push_str("    <nodes>\n");
    for i in 1..=nodes {
        xml.push_str(&format!("      <node id=\"{i}\" uname=\"node{i}\"/>\n"));
    }
    xml.push_str("    </nodes>\n    <resources>\n");
    let mut i = 0;
    while i < resources {
        if i % 30 == 0 && i + 3 <= resources {
            xml.push_str(&format!("      <group id=\"g{i}\">\n"));
            for k in 0..3 {
                xml.push_str(&primitive(&format!("r{}", i + k), None, &[]));
            }
            xml.push_str("      </group>\n");
            i += 3;
        } else {
            xml.push_str(&primitive(&format!("r{i}"), None, &[]));
            i += 1;
        }
    }
    xml.push_str("    </resources>\n    <constraints>\n");
    for j in (1..resources).step_by(10) {
        if j % 30 < 3 {
            continue;
        }
        xml.push_str(&format!("      <rsc_location id=\"l{j}\" rsc=\"r{j}\" node=\"node{}\" score=\"100\"/>\n", 1 + j % nodes));
    }
    xml.push_str("    </constraints>\n  </configuration>\n  <status>\n");
    for i in 1..=nodes {
        xml.push_str(&format!("    <node_state id=\"{i}\" uname=\"node{i}\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/>\n"));
    }
    xml.push_str("  </status>\n</cib>\n");
    xml
}
