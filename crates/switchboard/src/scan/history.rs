//! `--history`: every blob ever committed on any ref, scanned once, by running `git` as a subprocess.
//!
//! `git log --all --raw` names, for every commit, the blobs it introduced; the first commit (oldest
//! first) that introduced a blob is where its findings are reported. `git cat-file --batch` then
//! streams each distinct blob once, and the same scanner as the working tree reads it. git itself is
//! the dependency: no libgit2, whose build and version skew cost more than a subprocess.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};

use super::{
    Counters, HistoryStats, Located, ScanError, ScanOptions, absolute_key, display_path, scan_content,
};

/// Where a blob was first seen.
#[derive(Debug)]
struct Origin {
    commit_index: usize,
    commit: String,
    path: String,
}

/// One repository to scan and the parts of it (repository-relative prefixes) asked for; an empty
/// prefix means all of it.
#[derive(Debug)]
struct Repo {
    top: PathBuf,
    prefixes: Vec<String>,
}

/// Scans the history of the repositories holding `paths`.
pub(crate) fn scan_history(
    paths: &[PathBuf],
    options: &ScanOptions,
    cwd: &Path,
    counters: &Counters,
) -> Result<(Vec<Located>, HistoryStats), ScanError> {
    let mut repos: Vec<Repo> = Vec::new();
    for path in paths {
        let (top, prefix) = locate_repo(path)?;
        match repos.iter_mut().find(|r| r.top == top) {
            Some(repo) => repo.prefixes.push(prefix),
            None => repos.push(Repo { top, prefixes: vec![prefix] }),
        }
    }
    let mut stats = HistoryStats::default();
    let mut found = Vec::new();
    for repo in repos {
        let (origins, commits) = list_blobs(&repo)?;
        stats.commits += commits;
        stats.blobs += origins.len() as u64;
        found.extend(scan_blobs(&repo, origins, options, cwd, counters)?);
    }
    Ok((found, stats))
}

fn git(dir: &Path) -> Command {
    let mut command = Command::new("git");
    // Users' settings must not change the output parsed here.
    command.arg("-C").arg(dir).args(["-c", "log.showSignature=false", "-c", "core.quotePath=false"]);
    // Set when running inside a git hook; it would point every command at that repository instead.
    command.env_remove("GIT_DIR").env_remove("GIT_WORK_TREE");
    command
}

/// The repository's top directory and `path` relative to it.
fn locate_repo(path: &Path) -> Result<(PathBuf, String), ScanError> {
    let is_dir = path.is_dir();
    let dir = if is_dir {
        path.to_path_buf()
    } else {
        match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    let output = git(&dir)
        .args(["rev-parse", "--show-toplevel", "--show-prefix"])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ScanError::GitMissing { source })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("not a git repository") {
            return Err(ScanError::NotARepository { path: path.to_path_buf() });
        }
        return Err(ScanError::Git {
            command: "rev-parse --show-toplevel".to_owned(),
            repo: dir,
            detail: first_line(&stderr),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let top = PathBuf::from(lines.next().unwrap_or_default());
    let mut prefix = lines.next().unwrap_or_default().to_owned();
    if !is_dir && let Some(name) = path.file_name() {
        prefix.push_str(&name.to_string_lossy());
    }
    Ok((top, prefix))
}

fn first_line(text: &str) -> String {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_owned()
}

fn wanted(prefixes: &[String], path: &str) -> bool {
    prefixes.iter().any(|p| {
        p.is_empty()
            || path == p.trim_end_matches('/')
            || path.starts_with(&format!("{}/", p.trim_end_matches('/')))
    })
}

/// Every distinct blob of every commit on every ref, with the oldest commit that introduced it.
fn list_blobs(repo: &Repo) -> Result<(HashMap<String, Origin>, u64), ScanError> {
    let args = [
        "log",
        "--all",
        "--reverse",
        "--raw",
        "--no-renames",
        "--no-abbrev",
        "-z",
        // Blobs that only a merge introduced (conflict resolutions) are in its diff to the first parent.
        "--diff-merges=first-parent",
        "--format=%x01%H",
    ];
    let command_text = "log --all --raw";
    let (child, stdout) = spawn_piped(&repo.top, &args, Stdio::null(), command_text)?;
    let mut reader = BufReader::new(stdout);
    let mut origins: HashMap<String, Origin> = HashMap::new();
    let mut commits = 0u64;
    let mut commit = String::new();
    let mut pending: Option<String> = None;
    let mut item = Vec::new();
    loop {
        item.clear();
        let read = reader.read_until(0, &mut item).map_err(|e| git_io(command_text, &repo.top, &e))?;
        if read == 0 {
            break;
        }
        if item.last() == Some(&0) {
            item.pop();
        }
        let text = String::from_utf8_lossy(&item);
        let text = text.trim_start_matches('\n');
        if let Some(blob) = pending.take() {
            // The path after a raw record.
            if !blob.is_empty() && wanted(&repo.prefixes, text) && !origins.contains_key(&blob) {
                origins.insert(
                    blob,
                    Origin { commit_index: commits as usize, commit: commit.clone(), path: text.to_owned() },
                );
            }
        } else if let Some(hash) = text.strip_prefix('\u{1}') {
            commit = hash.trim().to_owned();
            commits += 1;
        } else if let Some(record) = text.strip_prefix(':') {
            // `:old_mode new_mode old_blob new_blob status`
            let fields: Vec<&str> = record.split(' ').collect();
            if let [_, new_mode, _, new_blob, ..] = fields[..] {
                let regular_file = new_mode.starts_with("100");
                let deleted = new_blob.bytes().all(|b| b == b'0');
                // Deletions and submodules/symlinks still consume their path item.
                pending = Some(if regular_file && !deleted { new_blob.to_owned() } else { String::new() });
            }
        }
    }
    finish(child, command_text, &repo.top)?;
    Ok((origins, commits))
}

/// Starts `git args` in `repo` with its output and errors piped, for reading as it runs.
fn spawn_piped(
    repo: &Path,
    args: &[&str],
    stdin: Stdio,
    command: &str,
) -> Result<(Child, ChildStdout), ScanError> {
    let mut child = git(repo)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ScanError::GitMissing { source })?;
    let stdout = child.stdout.take().ok_or_else(|| ScanError::Git {
        command: command.to_owned(),
        repo: repo.to_path_buf(),
        detail: "no standard output".to_owned(),
    })?;
    Ok((child, stdout))
}

fn git_io(command: &str, repo: &Path, e: &io::Error) -> ScanError {
    ScanError::Git { command: command.to_owned(), repo: repo.to_path_buf(), detail: e.to_string() }
}

fn finish(mut child: Child, command: &str, repo: &Path) -> Result<(), ScanError> {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        // Only for the message; a failure to read it leaves the message empty.
        let _ = pipe.read_to_string(&mut stderr);
    }
    let status = child.wait().map_err(|e| git_io(command, repo, &e))?;
    if status.success() {
        Ok(())
    } else {
        Err(ScanError::Git {
            command: command.to_owned(),
            repo: repo.to_path_buf(),
            detail: first_line(&stderr),
        })
    }
}

/// Streams the blobs through `git cat-file --batch` to scanning workers; keeps, for each finding
/// (fingerprint and path), its oldest commit.
fn scan_blobs(
    repo: &Repo,
    origins: HashMap<String, Origin>,
    options: &ScanOptions,
    cwd: &Path,
    counters: &Counters,
) -> Result<Vec<Located>, ScanError> {
    if origins.is_empty() {
        return Ok(Vec::new());
    }
    let command_text = "cat-file --batch";
    let (mut child, stdout) = spawn_piped(&repo.top, &["cat-file", "--batch"], Stdio::piped(), command_text)?;
    let stdin = child.stdin.take();
    let ids: Vec<String> = origins.keys().cloned().collect();
    let workers = match options.threads {
        0 => std::thread::available_parallelism().map_or(2, usize::from),
        n => n,
    };
    let (sender, receiver) = sync_channel::<(String, Vec<u8>)>(workers * 4);
    let receiver = Arc::new(Mutex::new(receiver));
    let origins = &origins;
    let max = options.max_file_size;

    let (read_result, results) = std::thread::scope(|scope| {
        // Writing ids on another thread: git answers while we still write, and a full pipe either
        // way would otherwise block both sides.
        scope.spawn(move || {
            if let Some(mut stdin) = stdin {
                for id in &ids {
                    if writeln!(stdin, "{id}").is_err() {
                        break;
                    }
                }
            }
        });
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let receiver = Arc::clone(&receiver);
                scope.spawn(move || worker(&receiver, origins, &repo.top, cwd, counters))
            })
            .collect();
        let read_result = read_batch(stdout, origins, max, counters, &sender);
        drop(sender);
        let results: Vec<Vec<(usize, Located)>> =
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect();
        (read_result, results)
    });
    read_result.map_err(|e| git_io(command_text, &repo.top, &e))?;
    finish(child, command_text, &repo.top)?;

    // The same secret at the same path in many blobs (every later edit of the file) is one finding,
    // reported at the oldest commit.
    let mut best: HashMap<(String, PathBuf), (usize, Located)> = HashMap::new();
    for (index, located) in results.into_iter().flatten() {
        let key = (located.finding.fingerprint.clone(), located.key.clone());
        match best.get(&key) {
            Some((existing, _)) if *existing <= index => {}
            _ => {
                best.insert(key, (index, located));
            }
        }
    }
    Ok(best.into_values().map(|(_, located)| located).collect())
}

/// Reads `git cat-file --batch` answers and hands each blob to the workers.
fn read_batch(
    stdout: ChildStdout,
    origins: &HashMap<String, Origin>,
    max: u64,
    counters: &Counters,
    sender: &std::sync::mpsc::SyncSender<(String, Vec<u8>)>,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(256 * 1024, stdout);
    let mut header = String::new();
    let mut seen = HashSet::new();
    loop {
        header.clear();
        if reader.read_line(&mut header)? == 0 {
            return Ok(());
        }
        // `<id> <type> <size>` or `<id> missing`
        let mut fields = header.split_whitespace();
        let (Some(id), Some(kind), Some(size)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let size: u64 = size
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "unexpected cat-file header"))?;
        let id = id.to_owned();
        if size > max || kind != "blob" {
            io::copy(&mut (&mut reader).take(size + 1), &mut io::sink())?;
            if kind == "blob"
                && let Some(origin) = origins.get(&id)
            {
                counters.large(&format!("{}:{}", short(&origin.commit), origin.path));
            }
            continue;
        }
        let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        (&mut reader).take(size).read_to_end(&mut content)?;
        let mut newline = [0u8; 1];
        reader.read_exact(&mut newline)?;
        if seen.insert(id.clone()) && sender.send((id, content)).is_err() {
            return Ok(());
        }
    }
}

fn worker(
    receiver: &Mutex<Receiver<(String, Vec<u8>)>>,
    origins: &HashMap<String, Origin>,
    top: &Path,
    cwd: &Path,
    counters: &Counters,
) -> Vec<(usize, Located)> {
    let mut found = Vec::new();
    loop {
        let next = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => break,
        };
        let Ok((id, content)) = next else { break };
        let Some(origin) = origins.get(&id) else { continue };
        let key = top.join(&origin.path);
        // Shown relative to the current directory when the repository is under it, like the walk.
        let display = match key.strip_prefix(cwd) {
            Ok(relative) => display_path(relative),
            Err(_) => display_path(&absolute_key(&key, cwd)),
        };
        for located in scan_content(&content, &display, &key, Some(&origin.commit), counters) {
            found.push((origin.commit_index, located));
        }
    }
    found
}

/// A commit hash shortened for people.
pub(crate) fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
