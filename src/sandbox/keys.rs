//! Secrets the sandbox makes for itself on first start and keeps in the data directory, so that they survive
//! restarts and other local tools (the demo, the benchmark scripts) can read them.

use crate::config::Secret;
use rand::RngCore;
use std::path::Path;

/// The feed's HMAC secret in sandbox mode: `data_dir/sandbox/feed_hmac.key`, made on first use.
pub fn feed_secret(data_dir: &Path) -> Result<Secret, String> {
    let path = data_dir.join("sandbox").join("feed_hmac.key");
    if path.exists() {
        return Secret::from_file("sandbox feed secret", &path).map_err(|e| e.to_string());
    }
    let dir = path.parent().expect("the path has a parent");
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let text = hex::encode(bytes);
    write_private(&path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Secret::new(text.into_bytes()))
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}
