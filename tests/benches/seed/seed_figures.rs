//! The seed's figures (OSC 2015 Tokyo/Spring, Linux-HA Japan): Pacemaker 1.1.12 on 1-core KVM
//! guests, seconds. 1.0 in the second field where it had one.

/// Startup (cluster start -> all started), 15 Dummy per active node: (active nodes, 1.1, 1.0).
pub const STARTUP_BY_NODES: &[(usize, f64, Option<f64>)] = &[
    (1, 31.0, Some(108.0)),
    (3, 35.0, Some(127.0)),
    (5, 39.0, Some(180.0)),
    (7, 52.0, Some(312.0)),
    (9, 87.0, Some(550.0)),
    (11, 127.0, None),
    (13, 193.0, None),
    (15, 290.0, None),
];

/// Startup of a 1+1 cluster by resource count: (resources, 1.1, 1.0).
pub const STARTUP_BY_RESOURCES: &[(usize, f64, Option<f64>)] =
    &[(32, 28.0, Some(70.0)), (64, 31.0, Some(154.0)), (128, 42.0, Some(285.0)), (256, 101.0, Some(312.0)), (512, 580.0, Some(636.0))];

/// Standby switchover of a 1+1 cluster by resource count: (resources, 1.1, 1.0).
pub const SWITCHOVER: &[(usize, f64, Option<f64>)] = &[(32, 3.0, Some(14.0)), (64, 6.0, Some(21.0)), (128, 14.0, Some(50.0)), (256, 60.0, Some(201.0))];

pub fn lookup(table: &[(usize, f64, Option<f64>)], key: usize) -> Option<f64> {
    table.iter().find(|(k, _, _)| *k == key).map(|(_, v, _)| *v)
}
