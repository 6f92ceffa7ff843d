//! A network namespace with a veth link to ours: peers reach the daemon
//! over a real link, not loopback. Needs root and iproute2: the tests using
//! it are `#[ignore = "needs root: ..."]`.

use std::process::{Command, Output};

use crate::describe;

/// A namespace with a veth link to ours, removed on drop.
pub struct Netns {
    name: String,
}

pub const HOST_ADDR: &str = "169.254.213.1";
pub const ROGUE_ADDR: &str = "169.254.213.2";

fn ip(args: &[&str]) -> Output {
    Command::new("ip").args(args).output().expect("run ip")
}

impl Netns {
    pub fn create() -> Netns {
        crate::needs::root("creates a network namespace");
        let id = std::process::id() % 100_000;
        let name = format!("dfmrogue{id}");
        let (host_if, rogue_if) = (format!("dfmh{id}"), format!("dfmr{id}"));
        let steps: Vec<Vec<String>> = vec![
            vec!["netns".into(), "add".into(), name.clone()],
            vec![
                "link".into(),
                "add".into(),
                host_if.clone(),
                "type".into(),
                "veth".into(),
                "peer".into(),
                "name".into(),
                rogue_if.clone(),
            ],
            vec![
                "link".into(),
                "set".into(),
                rogue_if.clone(),
                "netns".into(),
                name.clone(),
            ],
            vec![
                "addr".into(),
                "add".into(),
                format!("{HOST_ADDR}/30"),
                "dev".into(),
                host_if.clone(),
            ],
            vec!["link".into(), "set".into(), host_if.clone(), "up".into()],
            vec![
                "-n".into(),
                name.clone(),
                "addr".into(),
                "add".into(),
                format!("{ROGUE_ADDR}/30"),
                "dev".into(),
                rogue_if.clone(),
            ],
            vec![
                "-n".into(),
                name.clone(),
                "link".into(),
                "set".into(),
                rogue_if,
                "up".into(),
            ],
            vec![
                "-n".into(),
                name.clone(),
                "link".into(),
                "set".into(),
                "lo".into(),
                "up".into(),
            ],
        ];
        let netns = Netns { name };
        for step in steps {
            let args: Vec<&str> = step.iter().map(String::as_str).collect();
            let output = ip(&args);
            assert!(
                output.status.success(),
                "cannot set up the rogue's network namespace (needs root and iproute2): ip {}: {}",
                args.join(" "),
                describe(&output)
            );
        }
        netns
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs a command inside the namespace.
    pub fn run(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .envs(env.iter().copied())
            .output()
            .expect("run in the namespace")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair too.
        let _ = ip(&["netns", "del", &self.name]);
    }
}
