//! The working-tree walk: parallel and `.gitignore`-aware, with the `ignore` crate as ripgrep uses it.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use super::{Counters, Located, ScanOptions, absolute_key, display_path, scan_content};

// Version-control metadata: never content anyone wrote, and `--history` reads git's properly.
const VCS_DIRS: [&str; 4] = [".git", ".hg", ".svn", ".jj"];

/// Walks `paths` and scans every file; unreadable entries become warnings, never a silent gap.
pub(crate) fn scan_tree(
    paths: &[PathBuf],
    options: &ScanOptions,
    cwd: &Path,
    counters: &Counters,
) -> Vec<Located> {
    let Some((first, rest)) = paths.split_first() else { return Vec::new() };
    let mut builder = WalkBuilder::new(first);
    for path in rest {
        builder.add(path);
    }
    let respect = options.respect_gitignore;
    builder
        // Secrets like to live in dotfiles (.env, .npmrc, .github/workflows); scan them.
        .hidden(false)
        .ignore(respect)
        .git_ignore(respect)
        .git_global(respect)
        .git_exclude(respect)
        .parents(respect)
        .follow_links(false)
        .threads(options.threads)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !(is_dir && entry.file_name().to_str().is_some_and(|name| VCS_DIRS.contains(&name)))
        });
    let found = Mutex::new(Vec::new());
    let max = options.max_file_size;
    builder.build_parallel().run(|| {
        let mut buffer = Vec::new();
        let found = &found;
        Box::new(move |result| {
            let entry = match result {
                Ok(entry) => entry,
                Err(e) => {
                    counters.unreadable(e.to_string());
                    return WalkState::Continue;
                }
            };
            // Symbolic links are not followed: their target is scanned where it lives in the tree.
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let path = entry.path();
            let display = display_path(path);
            match read_file(path, max, &mut buffer) {
                Ok(true) => {
                    counters.file();
                    let hits = scan_content(&buffer, &display, &absolute_key(path, cwd), None, counters);
                    if !hits.is_empty()
                        && let Ok(mut found) = found.lock()
                    {
                        found.extend(hits);
                    }
                }
                Ok(false) => counters.large(&display),
                Err(e) => counters.unreadable(format!("cannot read {display}: {e}")),
            }
            WalkState::Continue
        })
    });
    found.into_inner().unwrap_or_default()
}

/// Reads a file into `buffer` unless it is larger than `max` bytes (then `Ok(false)`).
fn read_file(path: &Path, max: u64, buffer: &mut Vec<u8>) -> io::Result<bool> {
    let file = File::open(path)?;
    if file.metadata()?.len() > max {
        return Ok(false);
    }
    buffer.clear();
    // The file may grow between the size check and the read; never read past the limit.
    let read = file.take(max.saturating_add(1)).read_to_end(buffer)?;
    Ok(read as u64 <= max)
}
