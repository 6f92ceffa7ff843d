//! A warm Python interpreter running the driver (`driver.py`): its process
//! (the leader of its own group, so that killing it kills what its task
//! started), the pipe requests go down and the one answers come up, and
//! its stderr, forwarded to the worker's log with its last lines kept for
//! when it dies.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::task::JoinHandle;

/// The driver, run with `python -c`.
const DRIVER: &str = include_str!("driver.py");

/// Lines of its stderr kept for the message when it dies.
const TAIL_LINES: usize = 20;

/// How long its stderr may take to drain once it has died.
const DRAIN: Duration = Duration::from_millis(200);

pub struct Interpreter {
    python: PathBuf,
    child: Child,
    requests: ChildStdin,
    answers: Answers,
    tail: Arc<Mutex<VecDeque<String>>>,
    pump: Option<JoinHandle<()>>,
}

/// How an interpreter ended.
pub struct Death {
    pub status: Option<ExitStatus>,
    /// The last lines it wrote on stderr.
    pub last_words: String,
}

impl Interpreter {
    /// Starts `python` on the driver, with `env` (its first task's) as its
    /// whole environment. `base`: the worker's own environment, as JSON,
    /// which the driver overlays with each task's client's.
    /// `native_dfm_out`: dfm's dfm-out, for the shims of shell steps.
    pub fn start(
        python: &Path,
        env: &BTreeMap<OsString, OsString>,
        base: &str,
        native_dfm_out: Option<&Path>,
    ) -> io::Result<Interpreter> {
        let mut command = Command::new(python);
        command
            .args(["-u", "-c", DRIVER])
            .env_clear()
            .envs(env)
            .env("DFM_DRIVER_BASE_ENV", base)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(native) = native_dfm_out {
            command.env("DFM_OUT_NATIVE", native);
        }
        let mut child = command.spawn()?;
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(requests), Some(stdout), Some(stderr)) = pipes else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("the interpreter's pipes were not set up"));
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let pump = tokio::spawn(forward_stderr(OwnedFd::from(stderr), tail.clone()));
        Ok(Interpreter {
            python: python.to_path_buf(),
            answers: Answers::new(OwnedFd::from(stdout))?,
            child,
            requests,
            tail,
            pump: Some(pump),
        })
    }

    pub fn python(&self) -> &Path {
        &self.python
    }

    /// Writes one request line.
    pub fn send(&mut self, line: &[u8]) -> io::Result<()> {
        self.requests.write_all(line)?;
        self.requests.flush()
    }

    /// The next answer line; an error once the interpreter has closed its
    /// end (it died).
    pub async fn answer(&mut self) -> io::Result<Vec<u8>> {
        self.answers.line().await
    }

    /// The next answer line if one has come, without waiting.
    pub fn try_answer(&mut self) -> io::Result<Option<Vec<u8>>> {
        self.answers.try_line()
    }

    /// Blocks until an answer may have come, or `limit` has passed.
    pub fn wait_for_answer(&self, limit: Duration) {
        self.answers.wait(limit);
    }

    /// Kills the interpreter and everything in its process group.
    pub fn kill(&self) {
        // SAFETY: killpg has no memory-safety preconditions; the leader is
        // our unreaped child, so its group id cannot have been reused.
        unsafe {
            libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL);
        }
    }

    /// How it ended, once its answers have ended: its status (killed if it
    /// lingers) and its last words.
    pub async fn death(&mut self) -> Death {
        let mut status = None;
        for _ in 0..50 {
            if let Ok(Some(ended)) = self.child.try_wait() {
                status = Some(ended);
                break;
            }
            tokio::time::sleep(Duration::from_millis(4)).await;
        }
        if status.is_none() {
            self.kill();
            status = self.child.wait().ok();
        }
        if let Some(pump) = self.pump.take() {
            let _ = tokio::time::timeout(DRAIN, pump).await;
        }
        let last_words = self
            .tail
            .lock()
            .map(|tail| tail.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default();
        Death { status, last_words }
    }
}

impl Drop for Interpreter {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
            let _ = self.child.wait();
        }
        if let Some(pump) = self.pump.take() {
            pump.abort();
        }
    }
}

/// The answers pipe: non-blocking, read into a buffer of partial lines.
struct Answers {
    fd: AsyncFd<OwnedFd>,
    buf: Vec<u8>,
}

impl Answers {
    fn new(fd: OwnedFd) -> io::Result<Answers> {
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        // SAFETY: the OwnedFd owns the descriptor, which stays open and the
        // same until the AsyncFd (its owner from here on) is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
        Ok(Answers {
            fd,
            buf: Vec::new(),
        })
    }

    /// A whole line from the buffer, if there is one.
    fn take_line(&mut self) -> Option<Vec<u8>> {
        let end = memchr::memchr(b'\n', &self.buf)?;
        let mut line: Vec<u8> = self.buf.drain(..=end).collect();
        line.pop();
        Some(line)
    }

    /// Reads what has come; an error at the end of the pipe.
    fn try_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(line) = self.take_line() {
                return Ok(Some(line));
            }
            let mut chunk = [0u8; 16 * 1024];
            // SAFETY: reads at most `chunk.len()` bytes into `chunk`.
            let n = unsafe {
                libc::read(
                    self.fd.get_ref().as_raw_fd(),
                    chunk.as_mut_ptr().cast(),
                    chunk.len(),
                )
            };
            match n {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n if n > 0 => self.buf.extend_from_slice(&chunk[..n as usize]),
                _ => {
                    let error = io::Error::last_os_error();
                    match error.kind() {
                        io::ErrorKind::WouldBlock => return Ok(None),
                        io::ErrorKind::Interrupted => {}
                        _ => return Err(error),
                    }
                }
            }
        }
    }

    async fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(line) = self.try_line()? {
                return Ok(line);
            }
            let mut ready = self.fd.readable().await?;
            ready.clear_ready();
        }
    }

    fn wait(&self, limit: Duration) {
        if memchr::memchr(b'\n', &self.buf).is_some() {
            return;
        }
        let mut poll = libc::pollfd {
            fd: self.fd.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = limit.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd; the descriptor stays open during the call.
        unsafe {
            libc::poll(&mut poll, 1, millis);
        }
    }
}

/// Copies the interpreter's stderr (what its tasks print) to the worker's,
/// line by line, keeping the last few.
async fn forward_stderr(fd: OwnedFd, tail: Arc<Mutex<VecDeque<String>>>) {
    let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
        return;
    };
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("{line}");
        if let Ok(mut tail) = tail.lock() {
            if tail.len() >= TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
}

/// `exit code 3`, `killed by signal 9`.
pub fn how_it_ended(status: Option<ExitStatus>) -> String {
    match status {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            _ => "ended".to_string(),
        },
        None => "status unknown".to_string(),
    }
}
