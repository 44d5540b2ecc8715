//! What operators see in the logs: refusals name the peer address; loose key files warn.
//! Each test captures its own thread's tracing output (the tokio test runtime is
//! single-threaded, so the listener's tasks log on the same thread).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use atrium_transport::{ClusterKey, Overwrite, connect};
use common::{Attack, Mitm, TIMEOUT, key, listener, node};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn assert_line(&self, parts: &[&str]) {
        let lines = self.lines();
        assert!(
            lines.iter().any(|l| parts.iter().all(|p| l.contains(p))),
            "no log line with all of {parts:?} in:\n{}",
            lines.join("\n")
        );
    }
}

#[tokio::test]
async fn wrong_key_refusal_is_logged_with_the_peer_address_on_both_sides() {
    let log = Captured::default();
    let _guard = log.install();
    let mut listener = listener(&key(1)).await;
    let server_addr = listener.local_addr();

    let client_err = connect(server_addr, &key(2), &node("intruder"), TIMEOUT)
        .await
        .err()
        .unwrap();
    let server_err = listener.accept().await.err().unwrap();
    let atrium_transport::TransportError::AuthenticationFailed { peer: client_addr } = server_err
    else {
        panic!("{server_err}");
    };
    assert!(matches!(
        client_err,
        atrium_transport::TransportError::AuthenticationFailed { .. }
    ));

    log.assert_line(&[
        "WARN",
        "handshake refused",
        &format!("peer={client_addr}"),
        "cluster key",
    ]);
    log.assert_line(&[
        "WARN",
        "handshake refused",
        &format!("peer={server_addr}"),
        "cluster key",
    ]);
    // The key itself never appears, only its fingerprint.
    log.assert_line(&["listening", &key(1).fingerprint()]);
}

#[tokio::test]
async fn dropped_connection_is_logged_with_the_peer_address() {
    let log = Captured::default();
    let _guard = log.install();
    let k = key(1);
    let mut listener = listener(&k).await;
    let mitm = Mitm::start(listener.local_addr(), Attack::Tamper(0), Attack::None).await;
    let mut client = connect(mitm.addr, &k, &node("client"), TIMEOUT)
        .await
        .unwrap();
    client.send(b"x").await.unwrap();
    let mut server = listener.accept().await.unwrap();
    let peer = server.peer().addr;
    assert!(server.recv().await.is_err());
    log.assert_line(&[
        "WARN",
        "dropping transport connection",
        &format!("peer={peer}"),
        "node=\"client\"",
        "failed authentication",
    ]);
}

#[test]
fn loose_key_file_permissions_are_warned_about() {
    let log = Captured::default();
    let _guard = log.install();
    let dir = tempfile::tempdir().unwrap();
    let tight = dir.path().join("tight");
    let loose = dir.path().join("loose");
    let key = ClusterKey::generate().unwrap();
    key.write_to(&tight, Overwrite::Refuse).unwrap();
    key.write_to(&loose, Overwrite::Refuse).unwrap();
    fs::set_permissions(&loose, fs::Permissions::from_mode(0o644)).unwrap();

    ClusterKey::load(&tight).unwrap();
    assert!(log.lines().is_empty(), "{:?}", log.lines());
    ClusterKey::load(&loose).unwrap();
    log.assert_line(&[
        "WARN",
        "chmod 600",
        &loose.display().to_string(),
        "mode=644",
    ]);
}
