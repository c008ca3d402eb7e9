//! `[command.NAME]`: run a program; check its exit code and output.

use futures::future::BoxFuture;
use indexmap::IndexMap;

use super::{Check, CheckContext, CheckOutput};
use crate::process::{self, Spawn};
use crate::syntax::{OneOrMany, Pattern, Program, Template};

crate::item_config! {
    /// A program that must exit as expected (and print what is expected).
    pub struct CommandItem {
        /// argv array, or a string run by `sh -c`.
        pub run: Program,
        /// Working directory, relative to the checklist's directory.
        #[serde(default)]
        pub cwd: Option<Template>,
        #[serde(default)]
        pub env: IndexMap<String, Template>,
        /// Accepted exit code(s); default 0.
        #[serde(default)]
        pub exit_code: Option<OneOrMany<i32>>,
        #[serde(default)]
        pub stdout_contains: Option<OneOrMany<Template>>,
        #[serde(default)]
        pub stdout_matches: Option<Pattern>,
    }
}

impl Check for CommandItem {
    fn stops_on_cancel(&self) -> bool {
        true
    }

    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, CheckOutput> {
        Box::pin(async move {
            let argv = self.run.argv();
            let cwd = match &self.cwd {
                Some(c) => cx.base_dir().join(c.as_str()),
                None => cx.base_dir().to_path_buf(),
            };
            let env: Vec<(String, String)> = self
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            let spec = Spawn {
                argv: &argv,
                cwd: &cwd,
                env: &env,
            };
            let captured = match process::run_captured_until(&spec, cx.timeout, &cx.cancel).await {
                Ok(c) => c,
                Err(e) => {
                    let mut msg = process::spawn_error(&argv[0], &e);
                    if !cwd.is_dir() {
                        msg = format!("cannot run in `{}`: no such directory", cwd.display());
                    }
                    return CheckOutput::errored(msg);
                }
            };
            let shown = self.run.display();
            let details = format!("$ {shown}\n{}", captured.output_tail());
            let secs = captured.elapsed.as_secs_f64();
            let data = serde_json::json!({
                "command": shown,
                "exit_code": captured.status.and_then(|s| s.code()),
                "timed_out": captured.timed_out(),
                "duration_ms": captured.elapsed.as_millis() as u64,
            });
            let done = |out: CheckOutput| out.with_details(details.clone()).with_data(data.clone());
            if captured.interrupted {
                return done(CheckOutput::failed(
                    "interrupted; its process group was stopped",
                ));
            }
            if captured.timed_out() {
                return done(CheckOutput::failed(format!(
                    "timed out after {}; its process group was killed",
                    humantime::format_duration(cx.timeout)
                )));
            }
            let expected = self
                .exit_code
                .as_ref()
                .map(|c| c.to_vec())
                .unwrap_or_else(|| vec![0]);
            let code = captured.status.and_then(|s| s.code());
            if !code.is_some_and(|c| expected.contains(&c)) {
                return done(CheckOutput::failed(format!(
                    "{} (expected exit code {})",
                    captured.describe_status(),
                    expected
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(" or ")
                )));
            }
            for needle in self.stdout_contains.iter().flat_map(|n| n.to_vec()) {
                if !captured.stdout.contains(needle.as_str()) {
                    return done(CheckOutput::failed(format!(
                        "stdout does not contain `{needle}`"
                    )));
                }
            }
            if let Some(p) = &self.stdout_matches
                && !p.0.is_match(&captured.stdout)
            {
                return done(CheckOutput::failed(format!(
                    "stdout does not match `{}`",
                    p.0.as_str()
                )));
            }
            done(CheckOutput::passed(format!(
                "{} in {secs:.2}s",
                captured.describe_status()
            )))
        })
    }
}
