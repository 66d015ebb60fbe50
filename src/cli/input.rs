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

/// Reads a batch: JSON Lines, one order per line (blank lines skipped). Every bad line is reported,
/// as `FILE:LINE: field.path: problem`, so one pass fixes the whole batch.
pub fn read_batch(path: &Path) -> anyhow::Result<Result<Vec<labeld::order::Order>, Vec<String>>> {
    let bytes = read_source(path)?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => return Ok(Err(vec![format!("{}: not UTF-8 (byte {})", path.display(), e.valid_up_to())])),
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
    Ok(if errors.is_empty() { Ok(orders) } else { Err(errors) })
}
