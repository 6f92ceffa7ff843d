//! A client process for tests that kill clients: connects to a daemon
//! socket, submits one task, says so on stdout, and waits to be killed.
//!
//! Usage: dfm-test-client SOCKET TASK_JSON

use std::io::Write;
use std::os::unix::net::UnixStream;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, socket, task] = args.as_slice() else {
        eprintln!("usage: dfm-test-client SOCKET TASK_JSON");
        std::process::exit(2);
    };
    let mut stream = match UnixStream::connect(socket) {
        Ok(stream) => stream,
        Err(e) => {
            eprintln!("cannot connect to {socket}: {e}");
            std::process::exit(1);
        }
    };
    let line =
        format!("{{\"method\": \"task.submit\", \"id\": \"killed-client\", \"params\": {task}}}\n");
    if let Err(e) = stream.write_all(line.as_bytes()) {
        eprintln!("cannot submit: {e}");
        std::process::exit(1);
    }
    println!("submitted");
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
