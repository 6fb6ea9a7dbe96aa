//! The `log_watcher` binary (being built; see issue "The log_watcher service, complete").

fn main() {
    eprintln!("log_watcher is not complete yet");
    std::process::exit(1);
}
