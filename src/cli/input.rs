//! Reading orders from files or standard input.

use std::io::Read;
use std::path::Path;

use anyhow::Context;

/// Reads a whole file, or standard input for `-`.
pub fn read_source(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("reading standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Writes a whole file atomically (temporary file + rename), or standard output for `-`: a reader never
/// sees half a label.
pub fn write_output(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        return out.flush().context("writing standard output");
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().context("output path has no file name")?;
    let tmp = dir.join(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Whether a batch file holds marketplace documents: its first line says `"kind": "document"`.
pub fn is_document_batch(bytes: &[u8]) -> bool {
    let first = bytes.split(|b| *b == b'\n').find(|l| !l.iter().all(u8::is_ascii_whitespace));
    first
        .and_then(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .is_some_and(|v| v.get("kind").and_then(|k| k.as_str()) == Some("document"))
}

/// Reads a batch of marketplace documents: one `{"kind": "document", "order_id", "tracking_number",
/// "document": {"content_type", "data" | "url" | "file"}, "items"?, "key"?}` per line. A `file` (relative
/// to the batch file) is read here and sent as base64; the daemon checks everything else and names
/// `documents[i]` in its errors. Lines are returned as the API's batch items.
pub fn read_document_batch(path: &Path, bytes: &[u8]) -> Result<Vec<serde_json::Value>, Vec<String>> {
    use base64::Engine;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let text = String::from_utf8_lossy(bytes);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let mut v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("{at}: not JSON ({e})"));
                continue;
            }
        };
        let Some(obj) = v.as_object_mut() else {
            errors.push(format!("{at}: not a JSON object"));
            continue;
        };
        if obj.remove("kind").and_then(|k| k.as_str().map(String::from)).as_deref() != Some("document") {
            errors.push(format!("{at}: kind: every line of a document batch is \"kind\": \"document\""));
            continue;
        }
        if let Some(doc) = obj.get_mut("document").and_then(|d| d.as_object_mut()) {
            if let Some(file) = doc.remove("file") {
                let Some(name) = file.as_str() else {
                    errors.push(format!("{at}: document.file: must be a path"));
                    continue;
                };
                match std::fs::read(base.join(name)) {
                    Ok(b) => {
                        doc.insert("data".into(), base64::engine::general_purpose::STANDARD.encode(b).into());
                    }
                    Err(e) => {
                        errors.push(format!("{at}: document.file: cannot read {name}: {e}"));
                        continue;
                    }
                }
            }
        }
        out.push(v);
    }
    if out.is_empty() && errors.is_empty() {
        errors.push(format!("{}: no documents", path.display()));
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Reads a batch: JSON Lines, one order per line (blank lines skipped). Every bad line is reported,
/// as `FILE:LINE: field.path: problem`, so one pass fixes the whole batch.
pub fn read_batch(path: &Path) -> anyhow::Result<Result<Vec<labeld::order::Order>, Vec<String>>> {
    Ok(read_batch_bytes(path, &read_source(path)?))
}

/// [`read_batch`] of bytes already read.
pub fn read_batch_bytes(path: &Path, bytes: &[u8]) -> Result<Vec<labeld::order::Order>, Vec<String>> {
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => return Err(vec![format!("{}: not UTF-8 (byte {})", path.display(), e.valid_up_to())]),
    };
    let mut orders = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match labeld::order::Order::from_json_str(line) {
            Ok(o) => orders.push(o),
            Err(e) => errors.push(format!("{}:{}: {e}", path.display(), i + 1)),
        }
    }
    if orders.is_empty() && errors.is_empty() {
        errors.push(format!("{}: no orders (expected one JSON order per line)", path.display()));
    }
    if errors.is_empty() { Ok(orders) } else { Err(errors) }
}
