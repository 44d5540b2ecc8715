//! Fence agents through the shim, against a fake agent that speaks the fence-agents stdin
//! protocol and keeps each plug's power state in a file.

mod common;

use atrium_contract::{AgentError, FenceAgent, FenceRequest, PowerState};
use atrium_ocf_shim::FenceScriptAgent;
use common::{TestShim, write_script};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const FAKE: &str = r#"#!/bin/sh
action=reboot plug= login= passwd= statedir= keys=
while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    key=${line%%=*} value=${line#*=}
    keys="$keys $key"
    case "$key" in
        action) action=$value ;;
        plug|port) plug=$value ;;
        login) login=$value ;;
        passwd) passwd=$value ;;
        statedir) statedir=$value ;;
        nodename|ipaddr) ;;
        *) echo "Parse error: Ignoring unknown option '$line'" >&2 ;;
    esac
done
if [ "$action" = metadata ]; then
    cat <<XML
<?xml version="1.0" ?>
<resource-agent name="fence_fake" shortdesc="Fake fence agent for tests">
<longdesc>Keeps power states in files.</longdesc>
<parameters>
    <parameter name="action" unique="0" required="1"><getopt mixed="-o, --action=[action]"/><content type="string" default="reboot"/><shortdesc lang="en">Fencing action</shortdesc></parameter>
    <parameter name="plug" unique="0" required="1" obsoletes="port"><getopt mixed="-n, --plug=[id]"/><content type="string"/><shortdesc lang="en">Physical plug number</shortdesc></parameter>
    <parameter name="passwd" unique="0" required="0" deprecated="1"><content type="string"/><shortdesc lang="en">Login password</shortdesc></parameter>
</parameters>
<actions>
    <action name="on" automatic="0"/><action name="off"/><action name="reboot"/><action name="status"/>
    <action name="list"/><action name="monitor"/><action name="metadata"/>
</actions>
</resource-agent>
XML
    exit 0
fi
echo "$action $plug:$keys" >> "$statedir/calls"
if [ "$login" != admin ] || [ "$passwd" != secret ]; then
    echo "2026-11-25 ERROR: Failed: Unable to obtain correct plug status or plug is not available" >&2
    exit 1
fi
[ "$plug" = slow ] && sleep 1000
case "$action" in
    list) printf 'node1,Node One\nnode2\n' ;;
    monitor) ;;
    status)
        if [ "$(cat "$statedir/$plug" 2>/dev/null || echo on)" = on ]; then echo "Status: ON"; exit 0; fi
        echo "Status: OFF"; exit 2 ;;
    on) echo on > "$statedir/$plug"; echo "Success: Powered ON" ;;
    off) echo off > "$statedir/$plug"; echo "Success: Powered OFF" ;;
    reboot) echo off > "$statedir/$plug"; echo on > "$statedir/$plug"; echo "reboot" >> "$statedir/$plug.reboots"; echo "Success: Rebooted" ;;
    *) echo "Failed: unknown action $action" >&2; exit 1 ;;
esac
"#;

struct Fixture {
    t: TestShim,
    fake: FenceScriptAgent,
    req: FenceRequest,
}

fn fixture() -> Fixture {
    let t = TestShim::build(|c| c.fence_dir = c.helper_dir.parent().unwrap().join("sbin"));
    write_script(&t.shim.config().fence_dir.join("fence_fake"), FAKE);
    let fake = t.shim.fence_agent(&"stonith:fence_fake".parse().unwrap()).unwrap();
    let params = BTreeMap::from([
        ("ipaddr".to_string(), "192.0.2.1".to_string()),
        ("login".to_string(), "admin".to_string()),
        ("passwd".to_string(), "secret".to_string()),
        ("statedir".to_string(), t.dir.path().display().to_string()),
        ("pcmk_host_list".to_string(), "node1 node2".to_string()),
    ]);
    let req = FenceRequest { device: "fence1".into(), params, timeout: Duration::from_secs(20) };
    Fixture { t, fake, req }
}

#[test]
fn fake_agent_power_cycle_over_stdin() {
    let Fixture { t, fake, req } = fixture();
    assert_eq!(fake.status(&req, "node2").unwrap(), PowerState::On);
    fake.off(&req, "node2").unwrap();
    assert_eq!(fake.status(&req, "node2").unwrap(), PowerState::Off);
    fake.on(&req, "node2").unwrap();
    assert_eq!(fake.status(&req, "node2").unwrap(), PowerState::On);
    fake.reboot(&req, "node2").unwrap();
    assert_eq!(std::fs::read_to_string(t.path("node2.reboots")).unwrap(), "reboot\n");
    assert_eq!(fake.list(&req).unwrap(), ["node1", "node2"]);
    fake.monitor(&req).unwrap();

    let calls = std::fs::read_to_string(t.path("calls")).unwrap();
    let first = calls.lines().next().unwrap();
    assert_eq!(
        first, "status node2: action plug nodename ipaddr login passwd statedir",
        "pcmk_* stays with the cluster"
    );
    assert_eq!(calls.lines().count(), 8);
}

#[test]
fn host_argument_names_the_target_key() {
    let Fixture { t: _t, fake, mut req } = fixture();
    req.params.insert("pcmk_host_argument".into(), "port".into());
    fake.off(&req, "node1").unwrap();
    assert_eq!(fake.status(&req, "node1").unwrap(), PowerState::Off);
}

#[test]
fn wrong_password_is_an_error_with_the_agents_reason() {
    let Fixture { t: _t, fake, mut req } = fixture();
    req.params.insert("passwd".into(), "wrong".into());
    let err = fake.off(&req, "node1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "agent stonith:fence_fake: off failed (exit code 1): 2026-11-25 ERROR: Failed: Unable to obtain correct plug status or plug is not available"
    );
    assert!(fake.status(&req, "node1").is_err(), "status errors are not a power state");
}

#[test]
fn hanging_fence_call_times_out() {
    let Fixture { t: _t, fake, mut req } = fixture();
    req.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let err = fake.reboot(&req, "slow").unwrap_err().to_string();
    assert!(err.contains("reboot failed (timed out after"), "{err}");
    assert!(started.elapsed() < 2 * req.timeout, "{:?}", started.elapsed());
}

#[test]
fn parameters_that_would_break_the_protocol_are_refused() {
    let Fixture { t: _t, fake, mut req } = fixture();
    req.params.insert("passwd".into(), "secret\naction=off".into());
    let err = fake.status(&req, "node1").unwrap_err();
    assert!(err.to_string().contains("\"passwd\" cannot be passed"), "{err}");
}

#[test]
fn metadata_and_missing_agents() {
    let Fixture { t, fake, .. } = fixture();
    let md = fake.meta_data().unwrap();
    assert_eq!((md.name.as_str(), md.shortdesc.as_str()), ("fence_fake", "Fake fence agent for tests"));
    assert_eq!(md.parameters.len(), 3);
    assert_eq!(md.actions.len(), 7);
    let missing = t.shim.fence_agent(&"stonith:fence_missing".parse().unwrap()).unwrap();
    assert!(matches!(missing.meta_data(), Err(AgentError::NotInstalled { .. })));
}

#[test]
fn real_fence_dummy_keeps_power_state_in_its_status_file() {
    // fence-agents' own fence_dummy (Python, fencing.py) with its file backend.
    let t = TestShim::system();
    let dummy = t.shim.fence_agent(&"stonith:fence_dummy".parse().unwrap()).unwrap();
    let status_file = t.path("fence_dummy.status");
    std::fs::write(&status_file, "on").unwrap();
    let params = BTreeMap::from([
        ("type".to_string(), "file".to_string()),
        ("status_file".to_string(), status_file.display().to_string()),
    ]);
    let req = FenceRequest { device: "dummy1".into(), params, timeout: Duration::from_secs(30) };
    assert_eq!(dummy.status(&req, "node2").unwrap(), PowerState::On);
    dummy.off(&req, "node2").unwrap();
    assert_eq!(std::fs::read_to_string(&status_file).unwrap(), "off");
    assert_eq!(dummy.status(&req, "node2").unwrap(), PowerState::Off);
    dummy.on(&req, "node2").unwrap();
    dummy.reboot(&req, "node2").unwrap();
    assert_eq!(dummy.status(&req, "node2").unwrap(), PowerState::On);
    dummy.monitor(&req).unwrap();
    let md = dummy.meta_data().unwrap();
    assert!(md.parameter("status_file").is_some(), "{md:?}");
}
