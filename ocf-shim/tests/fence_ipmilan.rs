//! The real `fence_ipmilan` through the shim against OpenIPMI's `ipmi_sim` as a simulated BMC
//! on loopback, whose chassis-control script keeps the power bit in a file. Skips (with a
//! message) when fence-agents, ipmitool or openipmi are not installed.

mod common;

use atrium_contract::{AgentError, FenceAgent, FenceRequest, PowerState};
use common::TestShim;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Chassis control for ipmi_sim: called as `chassis.sh MC get power` (prints `power:0|1`) and
/// `chassis.sh MC set power 0|1`; logs every call.
const CHASSIS: &str = r#"#!/bin/sh
dir=$(dirname "$0")
echo "$2 $3 $4" >> "$dir/chassis.log"
case "$2" in
    get) echo "power:$(cat "$dir/power" 2>/dev/null || echo 1)" ;;
    set) [ "$3" = power ] && echo "$4" > "$dir/power" ;;
esac
"#;

const SIM_EMU: &str = "mc_setbmc 0x20\n\
    mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n\
    sel_enable 0x20 1000 0x0a\n\
    mc_enable 0x20\n";

fn lan_conf(port: u16, chassis: &Path) -> String {
    let auths = "none md2 md5 straight";
    let chassis = chassis.display();
    format!(
        r#"name "atriumbmc"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {port}
    priv_limit admin
    allowed_auths_callback {auths}
    allowed_auths_user {auths}
    allowed_auths_operator {auths}
    allowed_auths_admin {auths}
    guid a123456789abcdefa123456789abcdef
    lan_config_program "/bin/true"
  endlan
  chassis_control "{chassis} 0x20"
  user 1 true  ""      "test"   user  10 {auths}
  user 2 true  "admin" "secret" admin 10 {auths}
"#
    )
}

/// The simulated BMC; killed (by its PID) and reaped when dropped, on every path out of the test.
struct Bmc {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Bmc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bmc {
    fn start(dir: &Path) -> Bmc {
        let dir = dir.join("bmc");
        std::fs::create_dir_all(dir.join("state")).unwrap();
        let chassis = dir.join("chassis.sh");
        std::fs::write(&chassis, CHASSIS).unwrap();
        std::fs::set_permissions(&chassis, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A free UDP port: bind, read it back, release it for ipmi_sim.
        let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        std::fs::write(dir.join("lan.conf"), lan_conf(port, &chassis)).unwrap();
        std::fs::write(dir.join("sim.emu"), SIM_EMU).unwrap();
        let log = std::fs::File::create(dir.join("ipmi_sim.log")).unwrap();
        let child = Command::new("ipmi_sim")
            .arg("-c")
            .arg(dir.join("lan.conf"))
            .arg("-f")
            .arg(dir.join("sim.emu"))
            .arg("-s")
            .arg(dir.join("state"))
            .arg("-n")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("ipmi_sim starts");
        let bmc = Bmc { child, port, dir };
        bmc.wait_ready();
        bmc
    }

    /// Waits until ipmitool gets an answer (ipmi_sim binds its port shortly after starting).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ok = Command::new("ipmitool")
                .args(["-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", &self.port.to_string(), "-U", "admin", "-P", "secret", "-R", "1", "-N", "1"])
                .args(["chassis", "power", "status"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            let log = std::fs::read_to_string(self.dir.join("ipmi_sim.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "ipmi_sim did not answer on port {} within 10 s; its log:\n{log}", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn chassis_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("chassis.log")).unwrap_or_default().lines().map(str::to_string).collect()
    }

    fn power_bit(&self) -> String {
        std::fs::read_to_string(self.dir.join("power")).unwrap_or_else(|_| "1".into()).trim().to_string()
    }
}

fn missing_tools() -> Vec<&'static str> {
    [("ipmi_sim", "openipmi"), ("ipmitool", "ipmitool"), ("/usr/sbin/fence_ipmilan", "fence-agents")]
        .into_iter()
        .filter(|(program, _)| {
            let on_path = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()));
            !(Path::new(program).is_file() || on_path)
        })
        .map(|(_, package)| package)
        .collect()
}

fn request(port: u16, password: &str) -> FenceRequest {
    let params: BTreeMap<String, String> = [
        ("ip", "127.0.0.1".to_string()),
        ("ipport", port.to_string()),
        ("username", "admin".into()),
        ("password", password.into()),
        ("lanplus", "1".into()),
        // ipmi_sim does not answer "Get Channel Cipher Suites"; naming the suite saves ~14 s a call.
        ("cipher", "3".into()),
        ("pcmk_host_list", "bmcnode".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    FenceRequest { device: "ipmi1".into(), params, timeout: Duration::from_secs(30) }
}

#[test]
fn fence_ipmilan_against_ipmi_sim() {
    let missing = missing_tools();
    if !missing.is_empty() {
        eprintln!("SKIP: fence_ipmilan test needs the Debian packages {} (apt-get install fence-agents openipmi ipmitool)", missing.join(", "));
        return;
    }
    let t = TestShim::system();
    let bmc = Bmc::start(t.dir.path());
    let agent = t.shim.fence_agent(&"stonith:fence_ipmilan".parse().unwrap()).unwrap();
    let ok = request(bmc.port, "secret");
    let timed = |what: &str, f: &dyn Fn() -> Result<(), AgentError>| {
        let started = Instant::now();
        f().unwrap_or_else(|e| panic!("{what}: {e}"));
        eprintln!("fence_ipmilan {what}: {} ms", started.elapsed().as_millis());
    };

    assert_eq!(agent.status(&ok, "bmcnode").unwrap(), PowerState::On);
    timed("off", &|| agent.off(&ok, "bmcnode"));
    assert_eq!(bmc.power_bit(), "0");
    assert_eq!(agent.status(&ok, "bmcnode").unwrap(), PowerState::Off);
    timed("on", &|| agent.on(&ok, "bmcnode"));
    assert_eq!(agent.status(&ok, "bmcnode").unwrap(), PowerState::On);
    let before = bmc.chassis_calls().len();
    timed("reboot", &|| agent.reboot(&ok, "bmcnode"));
    let reboot: Vec<String> = bmc.chassis_calls()[before..].iter().filter(|c| c.starts_with("set")).cloned().collect();
    assert_eq!(reboot, ["set power 0", "set power 1"], "a reboot is off then on");
    timed("monitor", &|| agent.monitor(&ok));

    let bad = request(bmc.port, "wrong");
    match agent.status(&bad, "bmcnode") {
        Err(AgentError::Run { detail, .. }) => {
            assert!(detail.contains("exit code 1"), "{detail}");
            assert!(detail.contains("Unable to obtain correct plug status"), "{detail}");
        }
        other => panic!("a wrong password must fail with rc 1, got {other:?}"),
    }
    assert!(agent.off(&bad, "bmcnode").is_err());
    assert_eq!(bmc.power_bit(), "1", "a refused login changed nothing");
}
