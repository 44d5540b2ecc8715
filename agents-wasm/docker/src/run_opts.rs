//! `run_opts` and `run_cmd` as operators write them for `docker run`, translated into the
//! body of the Engine API's `POST /containers/create`. Options that need the docker CLI's
//! client side (reading host files, attaching a terminal) are refused by name.

use serde_json::{Map, Value, json};

/// The container to create: the API body without `Image`, and the host sides of its bind
/// mounts (mount_points must be among them).
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSpec {
    pub body: Map<String, Value>,
    pub bind_sources: Vec<String>,
}

fn host_config(body: &mut Map<String, Value>) -> &mut Map<String, Value> {
    body.entry("HostConfig").or_insert_with(|| json!({})).as_object_mut().expect("HostConfig is an object")
}

fn push(map: &mut Map<String, Value>, key: &str, v: Value) {
    if let Some(list) = map.entry(key).or_insert_with(|| json!([])).as_array_mut() {
        list.push(v);
    }
}

fn key_value(opt: &str, v: &str) -> Result<(String, String), String> {
    match v.split_once('=') {
        Some((k, val)) if !k.is_empty() => Ok((k.to_string(), val.to_string())),
        _ => Err(format!("{opt} '{v}': expected KEY=VALUE")),
    }
}

/// `512m`, `2g`, `1048576` as bytes.
fn bytes(opt: &str, v: &str) -> Result<u64, String> {
    let lower = v.to_ascii_lowercase();
    let text = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, mult) = match text.char_indices().last() {
        Some((i, 'k')) => (&text[..i], 1u64 << 10),
        Some((i, 'm')) => (&text[..i], 1 << 20),
        Some((i, 'g')) => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    num.parse::<u64>().map(|n| n * mult).map_err(|_| format!("{opt} '{v}': expected a size such as 512m or 2g"))
}

/// `[ip:]host:container[/proto]` or `container[/proto]`.
fn publish(spec: &mut CreateSpec, v: &str) -> Result<(), String> {
    let (ports, proto) = v.split_once('/').unwrap_or((v, "tcp"));
    let parts: Vec<&str> = ports.rsplitn(3, ':').collect();
    let (container, host, ip) = match parts.as_slice() {
        [c] => (*c, "", ""),
        [c, h] => (*c, *h, ""),
        [c, h, ip] => (*c, *h, *ip),
        _ => unreachable!("rsplitn(3) yields one to three parts"),
    };
    if container.parse::<u16>().is_err() || (!host.is_empty() && host.parse::<u16>().is_err()) {
        return Err(format!("--publish '{v}': expected [IP:]HOSTPORT:CONTAINERPORT[/PROTO]"));
    }
    let key = format!("{container}/{proto}");
    spec.body.entry("ExposedPorts").or_insert_with(|| json!({}))[&key] = json!({});
    let bindings = host_config(&mut spec.body).entry("PortBindings").or_insert_with(|| json!({}));
    let list = bindings.as_object_mut().expect("PortBindings is an object").entry(key).or_insert_with(|| json!([]));
    if let Some(l) = list.as_array_mut() {
        l.push(json!({"HostIp": ip, "HostPort": host}));
    }
    Ok(())
}

fn restart(spec: &mut CreateSpec, v: &str) -> Result<(), String> {
    let (name, count) = v.split_once(':').unwrap_or((v, "0"));
    if !matches!(name, "no" | "always" | "unless-stopped" | "on-failure") {
        return Err(format!("--restart '{v}': expected no, always, unless-stopped or on-failure[:N]"));
    }
    let count: u64 = count.parse().map_err(|_| format!("--restart '{v}': bad retry count"))?;
    host_config(&mut spec.body).insert("RestartPolicy".into(), json!({"Name": name, "MaximumRetryCount": count}));
    Ok(())
}

/// Applies one option that takes a value.
fn apply_value(spec: &mut CreateSpec, opt: &str, v: &str) -> Result<(), String> {
    let body = &mut spec.body;
    match opt {
        "-e" | "--env" => push(body, "Env", json!(v)),
        "-l" | "--label" => {
            let (k, val) = key_value(opt, v)?;
            body.entry("Labels").or_insert_with(|| json!({}))[&k] = json!(val);
        }
        "-v" | "--volume" => {
            let source = v.split(':').next().unwrap_or_default();
            if !v.contains(':') {
                return Err(format!("--volume '{v}': expected SOURCE:DEST[:MODE] (anonymous volumes are not kept across restarts)"));
            }
            if source.starts_with('/') {
                spec.bind_sources.push(source.trim_end_matches('/').to_string());
            }
            push(host_config(body), "Binds", json!(v));
        }
        "-p" | "--publish" => publish(spec, v)?,
        "--net" | "--network" => {
            host_config(body).insert("NetworkMode".into(), json!(v));
        }
        "--restart" => restart(spec, v)?,
        "-h" | "--hostname" => {
            body.insert("Hostname".into(), json!(v));
        }
        "-u" | "--user" => {
            body.insert("User".into(), json!(v));
        }
        "-w" | "--workdir" => {
            body.insert("WorkingDir".into(), json!(v));
        }
        "--entrypoint" => {
            body.insert("Entrypoint".into(), json!([v]));
        }
        "--stop-signal" => {
            body.insert("StopSignal".into(), json!(v));
        }
        "--cap-add" => push(host_config(body), "CapAdd", json!(v)),
        "--cap-drop" => push(host_config(body), "CapDrop", json!(v)),
        "--dns" => push(host_config(body), "Dns", json!(v)),
        "--add-host" => push(host_config(body), "ExtraHosts", json!(v)),
        "--security-opt" => push(host_config(body), "SecurityOpt", json!(v)),
        "--device" => {
            let mut parts = v.splitn(3, ':');
            let host = parts.next().unwrap_or_default();
            let inside = parts.next().unwrap_or(host);
            let perms = parts.next().unwrap_or("rwm");
            push(host_config(body), "Devices", json!({"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": perms}));
        }
        "--tmpfs" => {
            let (path, opts) = v.split_once(':').unwrap_or((v, ""));
            host_config(body).entry("Tmpfs").or_insert_with(|| json!({}))[path] = json!(opts);
        }
        "-m" | "--memory" => {
            host_config(body).insert("Memory".into(), json!(bytes(opt, v)?));
        }
        "--shm-size" => {
            host_config(body).insert("ShmSize".into(), json!(bytes(opt, v)?));
        }
        "--pid" | "--ipc" | "--uts" => {
            let key = match opt {
                "--pid" => "PidMode",
                "--ipc" => "IpcMode",
                _ => "UTSMode",
            };
            host_config(body).insert(key.into(), json!(v));
        }
        "--log-driver" => {
            host_config(body).insert("LogConfig".into(), json!({"Type": v, "Config": {}}));
        }
        _ => return Err(format!("option {opt} is not supported by the WASM docker agent")),
    }
    Ok(())
}

/// Applies one option without a value; false when `opt` is not such an option.
fn apply_flag(spec: &mut CreateSpec, opt: &str) -> bool {
    let body = &mut spec.body;
    match opt {
        // The agent always creates detached containers.
        "-d" | "--detach" => {}
        "-i" | "--interactive" => {
            body.insert("OpenStdin".into(), json!(true));
        }
        "-t" | "--tty" => {
            body.insert("Tty".into(), json!(true));
        }
        "--privileged" => {
            host_config(body).insert("Privileged".into(), json!(true));
        }
        "--init" => {
            host_config(body).insert("Init".into(), json!(true));
        }
        "--read-only" => {
            host_config(body).insert("ReadonlyRootfs".into(), json!(true));
        }
        "--rm" => {
            host_config(body).insert("AutoRemove".into(), json!(true));
        }
        _ => return false,
    }
    true
}

/// Options that only make sense to the docker CLI or name files on the client's side.
const CLIENT_SIDE: &[&str] = &["--env-file", "--label-file", "--cidfile", "--name", "-a", "--attach", "--pull", "--platform"];

/// Translates `run_opts` (already split into words) and `run_cmd` into a create request.
pub fn parse(run_opts: &[String], run_cmd: &[String]) -> Result<CreateSpec, String> {
    let mut spec = CreateSpec { body: Map::new(), bind_sources: Vec::new() };
    let mut words = run_opts.iter();
    while let Some(word) = words.next() {
        let (opt, inline) = match word.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o, Some(v)),
            _ => (word.as_str(), None),
        };
        if !opt.starts_with('-') {
            return Err(format!("run_opts: '{word}' is not an option (put the command in run_cmd)"));
        }
        if CLIENT_SIDE.contains(&opt) {
            return Err(format!("run_opts: {opt} is not supported (the agent sets the name itself and reads no files on the host)"));
        }
        if inline.is_none() && apply_flag(&mut spec, opt) {
            continue;
        }
        // Bundled short flags such as -dit.
        if inline.is_none() && opt.len() > 2 && !opt.starts_with("--") && opt[1..].chars().all(|c| "dit".contains(c)) {
            for c in opt[1..].chars() {
                apply_flag(&mut spec, &format!("-{c}"));
            }
            continue;
        }
        let value = match inline {
            Some(v) => v.to_string(),
            None => words.next().cloned().ok_or_else(|| format!("run_opts: {opt} needs a value"))?,
        };
        apply_value(&mut spec, opt, &value).map_err(|e| format!("run_opts: {e}"))?;
    }
    if !run_cmd.is_empty() {
        spec.body.insert("Cmd".into(), json!(run_cmd));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        atrium_agent_sdk::words::split(s).unwrap()
    }

    #[test]
    fn translates_the_common_options() {
        let s = parse(
            &words("-d -e A=1 --env=B='x y' -v /srv/data:/data:ro -p 127.0.0.1:8080:80 --net host --restart on-failure:3 -m 64m -it -l tier=web"),
            &words("sleep 100"),
        )
        .unwrap();
        let b = Value::Object(s.body);
        assert_eq!(b["Env"], json!(["A=1", "B=x y"]));
        assert_eq!(b["HostConfig"]["Binds"], json!(["/srv/data:/data:ro"]));
        assert_eq!(b["HostConfig"]["PortBindings"]["80/tcp"], json!([{"HostIp": "127.0.0.1", "HostPort": "8080"}]));
        assert_eq!(b["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(b["HostConfig"]["NetworkMode"], "host");
        assert_eq!(b["HostConfig"]["RestartPolicy"], json!({"Name": "on-failure", "MaximumRetryCount": 3}));
        assert_eq!(b["HostConfig"]["Memory"], 64 << 20);
        assert_eq!((b["Tty"].clone(), b["OpenStdin"].clone()), (json!(true), json!(true)));
        assert_eq!(b["Labels"]["tier"], "web");
        assert_eq!(b["Cmd"], json!(["sleep", "100"]));
        assert_eq!(s.bind_sources, ["/srv/data"]);
    }

    #[test]
    fn refuses_what_it_cannot_do_by_name() {
        assert!(parse(&words("--env-file /etc/x"), &[]).unwrap_err().contains("--env-file"));
        assert!(parse(&words("--frobnicate 1"), &[]).unwrap_err().contains("--frobnicate is not supported"));
        assert!(parse(&words("-e"), &[]).unwrap_err().contains("-e needs a value"));
        assert!(parse(&words("busybox"), &[]).unwrap_err().contains("run_cmd"));
        assert!(parse(&words("-p x:y"), &[]).unwrap_err().contains("--publish"));
    }
}
