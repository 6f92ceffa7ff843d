//! `dfm daemon --monitor`: a live, top-like view of the daemon.
//!
//! The daemon pushes events (`monitor.subscribe`); the model turns them into
//! state and the view draws it. Nothing here polls the daemon. Detaching
//! (q, Ctrl-C) leaves the daemon and its workers running. The terminal is
//! restored on every way out, panics included.

pub mod model;
pub mod view;

use std::io::{self, Stdout};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::client::Connection;
use crate::project::{Probe, Project};
use dfm_wire::{ClientCall, MonitorEvent, Reply};
use model::Model;

/// How often the screen is redrawn (elapsed times tick).
const FRAME: Duration = Duration::from_millis(200);

/// Attaches to the project's running daemon until the user detaches.
pub fn attach(project: &Project) -> Result<i32> {
    let state = match project.probe() {
        Probe::Running(state) => state,
        Probe::Absent | Probe::Stale { .. } => {
            eprintln!(
                "no dfm daemon is running for {}; start one with: dfm daemon start --monitor",
                project.root.display()
            );
            return Ok(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let timeout = crate::client::settings_for(&project.root).timeout;
    let outcome = runtime.block_on(run(Path::new(&state.socket), state.pid, timeout))?;
    match outcome {
        Exit::Detached => {
            println!("detached; the daemon (pid {}) keeps running", state.pid);
            Ok(0)
        }
        Exit::DaemonGone => {
            eprintln!("the daemon (pid {}) went away", state.pid);
            Ok(1)
        }
    }
}

enum Exit {
    Detached,
    DaemonGone,
}

/// Restores the terminal when dropped.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

impl Screen {
    fn open() -> Result<Screen> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        enable_raw_mode().context("cannot put the terminal in raw mode (is this a terminal?)")?;
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, EnterAlternateScreen, cursor::Hide) {
            restore_terminal();
            return Err(e).context("cannot set up the terminal");
        }
        let terminal = match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(terminal) => terminal,
            Err(e) => {
                restore_terminal();
                return Err(e).context("cannot set up the terminal");
            }
        };
        Ok(Screen { terminal })
    }

    fn draw(&mut self, model: &Model) -> Result<()> {
        self.terminal
            .draw(|frame| view::render(frame, model, Instant::now()))?;
        Ok(())
    }

    fn running_rows_visible(&self, model: &Model) -> usize {
        let area = match self.terminal.size() {
            Ok(size) => Rect::new(0, 0, size.width, size.height),
            Err(_) => Rect::new(0, 0, 80, 24),
        };
        let rows = view::running_rows_visible(view::layout(area, model.recent.len())[0]);
        // The clients' line sits under them.
        rows.saturating_sub(usize::from(!model.clients.is_empty()))
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Reads terminal events on a thread of its own (crossterm's reads block).
fn spawn_input(stop: Arc<AtomicBool>) -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(100)) {
                Ok(true) => match event::read() {
                    Ok(ev) => {
                        if tx.send(ev).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                Ok(false) => {}
                Err(_) => return,
            }
        }
    });
    rx
}

enum Key {
    Quit,
    Scroll(isize),
    Page(isize),
    Redraw,
    Ignore,
}

fn key(event: &Event) -> Key {
    match event {
        Event::Key(KeyEvent {
            code,
            modifiers,
            kind: KeyEventKind::Press | KeyEventKind::Repeat,
            ..
        }) => match code {
            KeyCode::Char('q') | KeyCode::Esc => Key::Quit,
            KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => Key::Quit,
            KeyCode::Up => Key::Scroll(-1),
            KeyCode::Down => Key::Scroll(1),
            KeyCode::PageUp => Key::Page(-1),
            KeyCode::PageDown => Key::Page(1),
            _ => Key::Ignore,
        },
        Event::Resize(..) => Key::Redraw,
        _ => Key::Ignore,
    }
}

/// How often the monitor makes sure the daemon still answers.
const PING_EVERY: Duration = Duration::from_secs(1);

async fn run(socket: &Path, pid: u32, timeout: Duration) -> Result<Exit> {
    let mut connection = tokio::time::timeout(timeout, Connection::connect(socket))
        .await
        .map_err(|_| anyhow::anyhow!("the daemon (pid {pid}) does not accept connections"))??;
    // Not waited for here: a daemon that does not answer is shown as such.
    let subscribe = connection
        .send(ClientCall::Subscribe { own_tasks: false })
        .await?;
    let mut model = Model::new(Instant::now());
    model.pid = pid;
    let mut ping: Option<(serde_json::Value, Instant)> = Some((subscribe.clone(), Instant::now()));
    let mut last_ping = Instant::now();
    let mut screen = Screen::open()?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut input = spawn_input(stop.clone());
    let mut frame = tokio::time::interval(FRAME);
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let exit = loop {
        tokio::select! {
            reply = connection.next_reply() => match reply {
                Ok(Some(Reply::Event { method, params })) => {
                    // Events of a newer daemon, or that do not parse, are
                    // left out: the next snapshot or counters set it right.
                    if let Ok(Some(event)) = MonitorEvent::parse(&method, params) {
                        model.apply(event, Instant::now());
                    }
                }
                Ok(Some(Reply::Result { id, result })) => {
                    if id == subscribe && result != "subscribed" {
                        bail!("the daemon did not accept the subscription: {result}");
                    }
                    if ping.as_ref().is_some_and(|(waiting, _)| *waiting == id) {
                        ping = None;
                        model.silent_since = None;
                    }
                }
                Ok(Some(Reply::Error { error, .. })) => bail!("the daemon answered: {error}"),
                Ok(None) | Err(_) => break Exit::DaemonGone,
            },
            event = input.recv() => {
                let Some(event) = event else { break Exit::Detached };
                let visible = screen.running_rows_visible(&model);
                match key(&event) {
                    Key::Quit => break Exit::Detached,
                    Key::Scroll(n) => model.scroll_by(n, visible),
                    Key::Page(n) => model.scroll_by(n * visible as isize, visible),
                    Key::Redraw => {
                        let _ = screen.terminal.autoresize();
                    }
                    Key::Ignore => continue,
                }
                screen.draw(&model)?;
            }
            _ = frame.tick() => {
                match &ping {
                    Some((_, sent)) if sent.elapsed() > timeout => {
                        model.silent_since.get_or_insert(*sent);
                    }
                    Some(_) => {}
                    None if last_ping.elapsed() >= PING_EVERY => {
                        last_ping = Instant::now();
                        let id = connection.send(ClientCall::Ping).await;
                        ping = id.ok().map(|id| (id, Instant::now()));
                    }
                    None => {}
                }
                screen.draw(&model)?;
            }
        }
    };
    stop.store(true, Ordering::Relaxed);
    drop(screen);
    Ok(exit)
}
