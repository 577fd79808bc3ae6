use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const DEBOUNCE: Duration = Duration::from_millis(100);

struct Recorder {
    causes: Arc<Mutex<Vec<ReloadCause>>>,
}

impl Recorder {
    fn new() -> (Self, impl Fn(ReloadCause) + Send + Sync + 'static) {
        let causes = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&causes);
        (Self { causes }, move |c| sink.lock().unwrap().push(c))
    }

    /// Waits until `n` reloads happened, then checks no more follow.
    async fn expect(&self, n: usize) -> Vec<ReloadCause> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.causes.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(DEBOUNCE * 5).await;
        let got = self.causes.lock().unwrap().clone();
        assert_eq!(got.len(), n, "reloads: {got:?}");
        got
    }
}

fn config(files: Vec<PathBuf>) -> ReloadConfig {
    ReloadConfig {
        files,
        poll: None,
        debounce: DEBOUNCE,
        events: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_the_file_triggers_one_reload() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, "v1").unwrap();
    let (rec, reload) = Recorder::new();
    let _w = spawn(config(vec![file.clone()]), reload).unwrap();
    // A burst of writes is one reload.
    for i in 0..5 {
        std::fs::write(&file, format!("v2-{i}")).unwrap();
    }
    assert_eq!(rec.expect(1).await, vec![ReloadCause::Changed]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_over_the_file_triggers_one_reload() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, "v1").unwrap();
    let (rec, reload) = Recorder::new();
    let _w = spawn(config(vec![file.clone()]), reload).unwrap();
    let tmp = dir.path().join(".policy.json.swp");
    std::fs::write(&tmp, "v2").unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    assert_eq!(rec.expect(1).await, vec![ReloadCause::Changed]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelet_data_symlink_swap_triggers_one_reload() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("..2026_01_01_v1")).unwrap();
    std::fs::write(d.join("..2026_01_01_v1/policy.json"), "v1").unwrap();
    std::os::unix::fs::symlink("..2026_01_01_v1", d.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/policy.json", d.join("policy.json")).unwrap();
    let (rec, reload) = Recorder::new();
    let _w = spawn(config(vec![d.join("policy.json")]), reload).unwrap();
    // What kubelet does: new timestamped dir, new symlink, atomic rename over `..data`.
    std::fs::create_dir(d.join("..2026_01_01_v2")).unwrap();
    std::fs::write(d.join("..2026_01_01_v2/policy.json"), "v2").unwrap();
    std::os::unix::fs::symlink("..2026_01_01_v2", d.join("..data_tmp")).unwrap();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    std::fs::remove_dir_all(d.join("..2026_01_01_v1")).unwrap();
    assert_eq!(rec.expect(1).await, vec![ReloadCause::Changed]);
    assert_eq!(
        std::fs::read_to_string(d.join("policy.json")).unwrap(),
        "v2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrelated_events_and_identical_content_cause_no_reload() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, "v1").unwrap();
    let (rec, reload) = Recorder::new();
    let _w = spawn(config(vec![file.clone()]), reload).unwrap();
    std::fs::write(dir.path().join("other.txt"), "x").unwrap();
    std::fs::write(&file, "v1").unwrap();
    let _ = std::fs::read(&file).unwrap();
    rec.expect(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_forces_a_reload_without_change() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, "v1").unwrap();
    let (rec, reload) = Recorder::new();
    let w = spawn(config(vec![file]), reload).unwrap();
    w.trigger();
    assert_eq!(rec.expect(1).await, vec![ReloadCause::Forced]);
    (w.trigger_fn())();
    assert_eq!(
        rec.expect(2).await,
        vec![ReloadCause::Forced, ReloadCause::Forced]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_alone_sees_changes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, "v1").unwrap();
    let (rec, reload) = Recorder::new();
    let cfg = ReloadConfig {
        files: vec![file.clone()],
        poll: Some(Duration::from_millis(100)),
        debounce: Duration::from_millis(10),
        events: false,
    };
    let _w = spawn(cfg, reload).unwrap();
    rec.expect(0).await;
    std::fs::write(&file, "v2").unwrap();
    assert_eq!(rec.expect(1).await, vec![ReloadCause::Changed]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_never_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, "v1").unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let overlapped = Arc::new(AtomicUsize::new(0));
    let (r, o) = (Arc::clone(&running), Arc::clone(&overlapped));
    let w = spawn(config(vec![file]), move |_| {
        if r.fetch_add(1, Ordering::SeqCst) > 0 {
            o.fetch_add(1, Ordering::SeqCst);
        }
        std::thread::sleep(Duration::from_millis(150));
        r.fetch_sub(1, Ordering::SeqCst);
    })
    .unwrap();
    for _ in 0..3 {
        w.trigger();
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(overlapped.load(Ordering::SeqCst), 0);
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_run_at_the_lowest_priority_and_survive_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, "v1").unwrap();
    let base = reloader::current_nice();
    let nices = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&nices);
    let reload = move |_| {
        let mut seen = sink.lock().unwrap();
        seen.push(reloader::current_nice());
        if seen.len() == 1 {
            drop(seen);
            panic!("the first reload fails");
        }
    };
    let w = spawn(config(vec![file.clone()]), reload).unwrap();
    w.trigger();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while nices.lock().unwrap().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The panic is contained: the next reload still runs, on the same low-priority thread.
    w.trigger();
    while nices.lock().unwrap().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*nices.lock().unwrap(), vec![19, 19]);
    // The caller's thread is untouched.
    assert_eq!(reloader::current_nice(), base);
}
