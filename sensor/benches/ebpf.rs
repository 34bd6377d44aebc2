//! Overhead of the eBPF collector on syscall-heavy workloads, in one run:
//! each workload is timed without the sensor and with `sensor record -w <tmp>.sf` attached
//! (alternating, best of `BENCH_REPS` runs, default 3), then a paced file loop checks for drops
//! at a fixed event rate (`BENCH_RATE`, default 200 000 events/s).
//!
//! `cargo bench -p sensor --bench ebpf`. Needs root and a sensor built with the probes
//! (`cargo xtask build-ebpf --release`); otherwise prints `SKIPPED: ...` and exits 0.

use std::{
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A running `sensor record`.
struct Sensor {
    child: Child,
    stderr: BufReader<std::process::ChildStderr>,
    out: PathBuf,
}

/// Counters parsed from the sensor's exit summary.
#[derive(Debug, Default)]
struct Summary {
    events: u64,
    peak: u64,
    drops: u64,
    records: u64,
    /// CPU seconds (user + system) the sensor process used in its whole life.
    cpu: f64,
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 * 1e-6
}

/// CPU seconds (user + system) of this process and its reaped children so far.
fn own_cpu() -> f64 {
    let mut total = 0.0;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: getrusage fills the struct it is given.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut ru) } == 0 {
            total += tv(ru.ru_utime) + tv(ru.ru_stime);
        }
    }
    total
}

fn start_sensor(out: &Path, extra: &[&str]) -> Result<Sensor, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["record", "-w"])
        .arg(out)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn sensor: {e}"))?;
    let mut stderr = BufReader::new(child.stderr.take().ok_or("no stderr")?);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.wait();
            return Err(seen);
        }
        if line.starts_with("sensor: recording to") {
            return Ok(Sensor {
                child,
                stderr,
                out: out.to_path_buf(),
            });
        }
        seen.push_str(&line);
    }
}

impl Sensor {
    fn stop(mut self) -> Summary {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let mut rest = String::new();
        let _ = self.stderr.read_to_string(&mut rest);
        // wait4 rather than Child::wait: it returns the sensor's own CPU usage, and keeps it
        // out of RUSAGE_CHILDREN only after the measured window (the sensor is reaped here).
        let mut status = 0;
        // SAFETY: plain out-parameters; reaps our own child.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let cpu = if unsafe { libc::wait4(self.child.id() as i32, &mut status, 0, &mut ru) } > 0 {
            tv(ru.ru_utime) + tv(ru.ru_stime)
        } else {
            let _ = self.child.wait();
            0.0
        };
        let _ = fs::remove_file(&self.out);
        let line = rest
            .lines()
            .find(|l| l.starts_with("sensor: events="))
            .unwrap_or("");
        let mut s = Summary {
            cpu,
            ..Default::default()
        };
        for tok in line.trim_start_matches("sensor: ").split(' ') {
            let Some((k, v)) = tok.split_once('=') else {
                continue;
            };
            let v: u64 = v.trim_end_matches("/s").parse().unwrap_or(0);
            match k {
                "events" => s.events = v,
                "peak" => s.peak = v,
                "drops" => s.drops = v,
                "records" => s.records = v,
                _ => {}
            }
        }
        s
    }
}

/// open + read + close of a small regular file, `n` times (3 reported events each).
fn file_loop(dir: &Path, n: usize) {
    let p = dir.join("bench-file.txt");
    let mut buf = [0u8; 64];
    for _ in 0..n {
        let mut f = fs::File::open(&p).expect("open");
        let _ = f.read(&mut buf).expect("read");
    }
}

/// fork + exec /bin/true, `n` times (clone ×2, exec, exit, plus the loader's opens/mmaps).
fn exec_loop(n: usize) {
    for _ in 0..n {
        let st = Command::new("/bin/true").status().expect("true");
        assert!(st.success());
    }
}

/// `n` 1-byte round trips over loopback TCP (4 reported I/O events each).
fn tcp_ping_pong(n: usize) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.set_nodelay(true).expect("nodelay");
        let mut b = [0u8; 1];
        for _ in 0..n {
            s.read_exact(&mut b).expect("server read");
            s.write_all(&b).expect("server write");
        }
    });
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_nodelay(true).expect("nodelay");
    let mut b = [0u8; 1];
    for _ in 0..n {
        c.write_all(b"x").expect("client write");
        c.read_exact(&mut b).expect("client read");
    }
    server.join().expect("server");
}

/// The file loop paced to `rate` reported events/s for `secs` seconds.
fn paced_file_loop(dir: &Path, rate: u64, secs: f64) -> (u64, f64) {
    let p = dir.join("bench-file.txt");
    let mut buf = [0u8; 64];
    let iters_per_sec = rate as f64 / 3.0;
    let start = Instant::now();
    let mut done: u64 = 0;
    while start.elapsed().as_secs_f64() < secs {
        // Catch up to the schedule in batches; sleep when ahead.
        let due = (start.elapsed().as_secs_f64() * iters_per_sec) as u64;
        if done >= due {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        let batch = due.min(done + 1000) - done;
        for _ in 0..batch {
            let mut f = fs::File::open(&p).expect("open");
            let _ = f.read(&mut buf).expect("read");
        }
        done += batch;
    }
    (done * 3, start.elapsed().as_secs_f64())
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIPPED: ebpf bench: loading eBPF probes needs root");
        return;
    }
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let reps = env("BENCH_REPS", 3).max(1) as usize;
    let rate = env("BENCH_RATE", 200_000);
    let dir = std::env::temp_dir().join(format!("sensor-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("bench dir");
    fs::write(dir.join("bench-file.txt"), b"0123456789abcdef").expect("bench file");
    let trace = dir.join("x.sf");
    match start_sensor(&trace, &[]) {
        Ok(s) => {
            s.stop();
        }
        Err(why) => {
            println!("SKIPPED: ebpf bench: sensor cannot record here: {why}");
            return;
        }
    }

    let cpu_model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_default();
    let read = |p: &str| fs::read_to_string(p).unwrap_or_default().trim().to_string();
    println!(
        "machine: {} CPUs ({cpu_model}), kernel {}, load average {} (epoch {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        read("/proc/sys/kernel/osrelease"),
        read("/proc/loadavg"),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    );

    // (name, sensor arguments, workload)
    type Workload<'a> = (&'static str, Vec<String>, Box<dyn Fn() + 'a>);
    // The benchmark's own name, for the in-kernel exclusion row.
    let comm = read("/proc/self/comm");
    let (d, d1, d2, d3) = (dir.clone(), dir.clone(), dir.clone(), dir.clone());
    let workloads: Vec<Workload> = vec![
        (
            "file loop (open/read/close x 100k)",
            vec![],
            Box::new(move || file_loop(&d, 100_000)),
        ),
        (
            "  same, one ring per CPU (reorder)",
            vec!["--cpus-per-ring".into(), "1".into()],
            Box::new(move || file_loop(&d1, 100_000)),
        ),
        (
            "  same, its comm excluded in kernel",
            vec!["--exclude-comm".into(), comm],
            Box::new(move || file_loop(&d2, 100_000)),
        ),
        (
            "  same, --events none (no sys_exit)",
            vec!["--events".into(), "none".into()],
            Box::new(move || file_loop(&d3, 100_000)),
        ),
        (
            "exec loop (/bin/true x 300)",
            vec![],
            Box::new(|| exec_loop(300)),
        ),
        (
            "tcp ping-pong (1 B x 20k round trips)",
            vec![],
            Box::new(|| tcp_ping_pong(20_000)),
        ),
    ];
    println!("ebpf collector overhead (best of {reps}, alternating without/with the sensor)");
    println!(
        "{:<38} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>6} {:>8}",
        "workload",
        "wall off",
        "wall on",
        "wall +%",
        "cpu off",
        "cpu on",
        "cpu +%",
        "events",
        "events/s",
        "drops",
        "sens cpu"
    );
    for (name, args, run) in &workloads {
        // Best (lowest) of the repetitions for each figure: the machine may be shared.
        let (mut wall_off, mut wall_on) = (f64::MAX, f64::MAX);
        let (mut cpu_off, mut cpu_on) = (f64::MAX, f64::MAX);
        let mut sum = Summary::default();
        for _ in 0..reps {
            let (t, c) = (Instant::now(), own_cpu());
            run();
            wall_off = wall_off.min(t.elapsed().as_secs_f64());
            cpu_off = cpu_off.min(own_cpu() - c);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let Ok(s) = start_sensor(&trace, &args) else {
                println!("sensor failed to start");
                return;
            };
            let (t, c) = (Instant::now(), own_cpu());
            run();
            let on = t.elapsed().as_secs_f64();
            cpu_on = cpu_on.min(own_cpu() - c);
            let st = s.stop();
            if on < wall_on {
                wall_on = on;
                sum = st;
            }
        }
        println!(
            "{:<38} {:>8.3} {:>8.3} {:>7.1}% {:>8.3} {:>8.3} {:>7.1}% {:>8} {:>10.0} {:>6} {:>8.3}",
            name,
            wall_off,
            wall_on,
            (wall_on / wall_off - 1.0) * 100.0,
            cpu_off,
            cpu_on,
            (cpu_on / cpu_off - 1.0) * 100.0,
            sum.events,
            sum.events as f64 / wall_on,
            sum.drops,
            sum.cpu
        );
    }
    println!(
        "(wall/cpu: seconds of the workload; cpu = user+system of the workload process and its \
         children; events: consumed by the sensor during its run, machine-wide; sens cpu: CPU \
         seconds of the sensor process, start-up and final drain included)"
    );

    let Ok(s) = start_sensor(&trace, &[]) else {
        println!("sensor failed to start");
        return;
    };
    let (events, secs) = paced_file_loop(&dir, rate, 5.0);
    let st = s.stop();
    println!(
        "paced file loop: target {rate} events/s, generated {:.0} events/s for {secs:.1} s; \
         sensor consumed {} events (peak {}/s, {} records, {:.2} CPU s), drops {}",
        events as f64 / secs,
        st.events,
        st.peak,
        st.records,
        st.cpu,
        st.drops
    );
    let _ = fs::remove_dir_all(&dir);
}
