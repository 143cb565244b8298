//! The processes of one search: the hosts file (`--hosts`, `--process`),
//! the connections between processes, and the bytes that cross them.
//!
//! racecheck connects the processes itself, rather than letting timely do
//! it: timely's connection loop prints to stdout (where the JSON report
//! goes) and retries forever, while here a process that does not join
//! before the time limit ends the search `incomplete`, and a handshake
//! checks that every process is searching the same thing.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where the processes of one search run: one `host:port` each, and which
/// of them this one is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// Empty: one process, threads only (no network).
    hosts: Vec<String>,
    process: usize,
}

impl Cluster {
    /// One process, its workers threads of it: nothing crosses a network.
    pub fn single() -> Cluster {
        Cluster { hosts: Vec::new(), process: 0 }
    }

    /// The processes listed in `hosts` (one `host:port` a line; blank lines
    /// and `#` comments skipped), this one being number `process` (from 0).
    pub fn new(hosts: Vec<String>, process: usize) -> Result<Cluster, String> {
        if process >= hosts.len() {
            return Err(format!(
                "error: expected --process from 0 to {} (the hosts listed), found {process}",
                hosts.len().saturating_sub(1)
            ));
        }
        Ok(Cluster { hosts, process })
    }

    /// Reads a hosts file; errors name the file, line and column.
    pub fn from_hosts_file(path: &Path, process: usize) -> Result<Cluster, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("error: cannot read hosts file {}: {e}", path.display()))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let before = &e.as_bytes()[..at];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = at - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
            format!(
                "error: {}:{line}:{column}: expected UTF-8 text, found byte {:#04x}",
                path.display(),
                e.as_bytes()[at]
            )
        })?;
        let hosts = parse_hosts(&text).map_err(|(line, column, found)| {
            format!(
                "error: {}:{line}:{column}: expected one `host:port` a line (e.g. 127.0.0.1:2101), found {found}",
                path.display()
            )
        })?;
        if hosts.is_empty() {
            return Err(format!("error: {}: expected one `host:port` a line, found no host", path.display()));
        }
        Cluster::new(hosts, process)
    }

    /// How many processes take part.
    pub fn processes(&self) -> usize {
        self.hosts.len().max(1)
    }

    /// Which one this is (from 0).
    pub fn process(&self) -> usize {
        self.process
    }

    pub(super) fn networked(&self) -> bool {
        self.hosts.len() > 1
    }
}

/// The hosts of a hosts file, or where the first bad line is (line, column,
/// what was found there).
fn parse_hosts(text: &str) -> Result<Vec<String>, (usize, usize, String)> {
    let mut hosts: Vec<String> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let entry = raw.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let column = raw.len() - raw.trim_start().len() + 1;
        let shown = || {
            let cut: String = entry.chars().take(60).collect();
            if cut.len() < entry.len() { format!("{cut:?}...") } else { format!("{cut:?}") }
        };
        let port = entry.rsplit_once(':').and_then(|(host, port)| {
            let host_ok = !host.is_empty() && !host.contains(char::is_whitespace);
            port.parse::<u16>().ok().filter(|&p| p > 0 && host_ok)
        });
        if port.is_none() {
            return Err((n + 1, column, shown()));
        }
        if hosts.iter().any(|h| h == entry) {
            return Err((n + 1, column, format!("{} a second time", shown())));
        }
        hosts.push(entry.to_string());
    }
    Ok(hosts)
}

/// A connection to another process that counts the bytes sent on it.
pub(super) struct Counted {
    stream: TcpStream,
    sent: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.stream.write(buf)?;
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl timely::communication::allocator::zero_copy::stream::Stream for Counted {
    fn try_clone(&self) -> io::Result<Self> {
        Ok(Counted { stream: self.stream.try_clone()?, sent: self.sent.clone() })
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.stream.set_nonblocking(nonblocking)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.stream.shutdown(how)
    }
}

/// How often a process that waits for another tries again.
const RETRY: Duration = Duration::from_millis(20);

/// Connects this process to every other (it connects to those listed
/// before it and accepts those listed after it, as timely does), checking
/// that each searches what this one does (`digest`). The result has a
/// connection per process, in order, `None` for this one; `sent` counts
/// the bytes written on all of them.
pub(super) fn connect(
    cluster: &Cluster,
    digest: u128,
    deadline: Instant,
    sent: &Arc<AtomicU64>,
) -> Result<Vec<Option<Counted>>, String> {
    let me = cluster.process;
    let hosts = &cluster.hosts;
    let listener =
        TcpListener::bind(&hosts[me]).map_err(|e| format!("process {me} cannot listen on {}: {e}", hosts[me]))?;
    listener.set_nonblocking(true).map_err(|e| format!("process {me}: {e}"))?;
    let mut sockets: Vec<Option<Counted>> = (0..hosts.len()).map(|_| None).collect();
    let late = |who: &str| {
        format!("{who} did not join within the time limit (is every process started with the same hosts file?)")
    };
    for (them, host) in hosts.iter().enumerate().take(me) {
        let mut stream = loop {
            match TcpStream::connect(host) {
                Ok(stream) => break stream,
                Err(_) if Instant::now() < deadline => std::thread::sleep(RETRY),
                Err(e) => return Err(format!("{} ({e})", late(&format!("process {them} at {host}")))),
            }
        };
        handshake(&mut stream, me, them, digest, deadline, true)?;
        sockets[them] = Some(Counted { stream, sent: sent.clone() });
    }
    while sockets.iter().enumerate().any(|(i, s)| i > me && s.is_none()) {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false).map_err(|e| format!("process {me}: {e}"))?;
                let them = handshake(&mut stream, me, usize::MAX, digest, deadline, false)?;
                if them <= me || them >= hosts.len() || sockets[them].is_some() {
                    return Err(format!(
                        "process {me} was joined by a process numbered {them}, which it did not expect"
                    ));
                }
                sockets[them] = Some(Counted { stream, sent: sent.clone() });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => std::thread::sleep(RETRY),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let missing: Vec<String> = (me + 1..hosts.len())
                    .filter(|&i| sockets[i].is_none())
                    .map(|i| format!("process {i} at {}", hosts[i]))
                    .collect();
                return Err(late(&missing.join(", ")));
            }
            Err(e) => return Err(format!("process {me} could not accept a connection: {e}")),
        }
    }
    for socket in sockets.iter().flatten() {
        let _ = socket.stream.set_nodelay(true);
    }
    Ok(sockets)
}

/// Sends this process's number and digest, reads the other's, and checks
/// they search the same thing; returns the other's number.
fn handshake(
    stream: &mut TcpStream,
    me: usize,
    expected: usize,
    digest: u128,
    deadline: Instant,
    first: bool,
) -> Result<usize, String> {
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
    let io = |e: io::Error| format!("process {me} lost a process while connecting: {e}");
    stream.set_read_timeout(Some(left)).map_err(io)?;
    let mut ours = [0u8; 24];
    ours[..8].copy_from_slice(&(me as u64).to_le_bytes());
    ours[8..].copy_from_slice(&digest.to_le_bytes());
    let mut theirs = [0u8; 24];
    if first {
        stream.write_all(&ours).map_err(io)?;
        stream.read_exact(&mut theirs).map_err(io)?;
    } else {
        stream.read_exact(&mut theirs).map_err(io)?;
        stream.write_all(&ours).map_err(io)?;
    }
    stream.set_read_timeout(None).map_err(io)?;
    let them = u64::from_le_bytes(theirs[..8].try_into().expect("8 bytes")) as usize;
    let their_digest = u128::from_le_bytes(theirs[8..].try_into().expect("16 bytes"));
    if expected != usize::MAX && them != expected {
        return Err(format!("process {me} reached a process numbered {them} where it expected {expected}"));
    }
    if their_digest != digest {
        return Err(format!(
            "process {them} is searching something else than process {me} (another scenario, variant, or the \
             searches in another order): start every process with the same command and files"
        ));
    }
    Ok(them)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_files_are_read_with_comments_and_blank_lines() {
        let text = "# the cluster\n127.0.0.1:2101\n\n  host-b:2102  # second\n";
        assert_eq!(parse_hosts(text), Ok(vec!["127.0.0.1:2101".to_string(), "host-b:2102".to_string()]));
    }

    #[test]
    fn a_bad_line_is_named_with_its_column() {
        assert_eq!(parse_hosts("a:1\n  nohost\n"), Err((2, 3, "\"nohost\"".to_string())));
        assert_eq!(parse_hosts("a:0\n"), Err((1, 1, "\"a:0\"".to_string())));
        assert_eq!(parse_hosts("a:70000\n"), Err((1, 1, "\"a:70000\"".to_string())));
        assert_eq!(parse_hosts(":5\n"), Err((1, 1, "\":5\"".to_string())));
        assert_eq!(parse_hosts("a:1\na:1\n"), Err((2, 1, "\"a:1\" a second time".to_string())));
    }

    #[test]
    fn a_process_beyond_the_hosts_is_refused() {
        let err = Cluster::new(vec!["a:1".into(), "b:2".into()], 2).unwrap_err();
        assert!(err.contains("from 0 to 1") && err.contains("found 2"), "{err}");
    }
}
