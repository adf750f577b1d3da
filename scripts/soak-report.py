#!/usr/bin/env python3
"""Checks and summary of a scripts/soak.sh run: reads the work directory's samples.csv,
wrk.csv, windows.csv, events.log, alive, status-*.json and stats-end.csv; writes
OUT/results.txt and WORK/soak.gp (the plot of OUT/soak.csv into OUT/soak.png).
Exit status 0 when every check passes, 1 otherwise.

Checks (the thresholds come from soak.sh's flags):
  alive        lbproxy and both vrrpd are the processes started at the beginning
  vip          the VIP was on lb1, and only there, in every sample
  vrrp-state   no VRRP state change on either node during the run (/status counters)
  reloads      every lbproxy reload was applied (its generation served)
  recovery     after each fault window, each daemon's open files (median of 5 samples
               around each second) are back under baseline + FD_TOL within RECOVER s after
               the window (or before the next one starts); the RSS then is reported. Under
               steady load lbproxy's count moves by +-10 on its own (its idle upstream pool
               follows nginx closing a connection every 1000 requests, wrk restarts each
               slice): a count under the baseline is a smaller pool, not a leak
  idle-pool    at the end of each quiet period (idle-close), lbproxy holds at most FD_TOL
               upstream sockets in CLOSE-WAIT (nginx closed them: they must be let go)
  end-files    open files at the end (median of the last 10 s) at most FD_TOL over the
               baseline, the median of the warmup's last 10 s (the RSS is reported too)
  rss-growth   the median RSS of the calm samples in the last third of the run (after the
               warmup) at most RSS_TOL % (2 MiB floor) over that of the first third. Medians
               of many samples, because lbproxy's RSS moves by +-20 % on its own under
               steady load (the allocator gives memory back when wrk's connections close
               and takes it again). Checked from two fault cycles on (12 windows, the
               default 10 minutes): a single pass of each fault cannot tell a leak from the
               allocator reaching its working size, so the short mode only reports it
  errors       no wrk slice with an error or a non-2xx answer unless it overlaps a window
               whose fault may cost requests (backend-kill, idle-close, nginx-reload)
"""
import argparse
import csv
import json
import os
import statistics

DAEMONS = [("lbproxy", "lbproxy"), ("vrrpd1", "vrrpd lb1"), ("vrrpd2", "vrrpd lb2")]
COLORS = {
    "backend-kill": "#e41a1c", "idle-close": "#377eb8", "nginx-reload": "#4daf4a",
    "lbproxy-reload": "#984ea3", "vrrp-garbage": "#ff7f00", "slowloris": "#a65628",
}
TAIL = 2.0  # seconds after a window that its errors may still show up in


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=int, required=True)
    ap.add_argument("--warmup", type=float, required=True)
    ap.add_argument("--recover", type=float, required=True)
    ap.add_argument("--fd-tol", type=float, required=True)
    ap.add_argument("--rss-tol-pct", type=float, required=True)
    ap.add_argument("--conns", type=int, required=True)
    ap.add_argument("--slice", type=int, required=True)
    a = ap.parse_args()
    W = lambda name: os.path.join(a.work, name)  # noqa: E731

    samples = read_csv(W("samples.csv"))
    for s in samples:
        s["t"] = num(s["elapsed_s"])
    slices = read_csv(W("wrk.csv"))
    for s in slices:
        s["t0"], s["t1"] = num(s["start"]), num(s["end"])
        s["req"] = int(s["requests"])
        s["err"] = sum(int(s[k]) for k in ("err_connect", "err_read", "err_write", "err_timeout", "other_err"))
        s["bad"] = s["err"] + int(s["non2xx"])
    windows = read_csv(W("windows.csv"))
    for w in windows:
        w["t0"], w["t1"], w["excuses"] = num(w["start"]), num(w["end"]), w["excuses"] == "1"

    lines = []
    out = lines.append
    checks = []  # (name, ok, detail)

    def check(name, ok, detail):
        checks.append((name, ok, detail))

    # --- baselines ---
    base_from = max(0.0, a.warmup - 10)
    warm = [s for s in samples if base_from <= s["t"] < a.warmup]
    end_t = samples[-1]["t"] if samples else 0
    tail = [s for s in samples if s["t"] > end_t - 10]
    base = {}
    for key, _ in DAEMONS:
        base[key] = {
            "fds": median(num(s[f"{key}_fds"]) for s in warm),
            "rss": median(num(s[f"{key}_rss_kb"]) for s in warm),
        }

    def rss_limit(key):
        b = base[key]["rss"] or 0
        return b + max(b * a.rss_tol_pct / 100, 2048)

    def fds_ok(f, key):
        return f is not None and base[key]["fds"] is not None and f <= base[key]["fds"] + a.fd_tol

    # --- alive ---
    alive = open(W("alive")).read().split("\n") if os.path.exists(W("alive")) else []
    alive = [x for x in alive if x]
    check("alive", bool(alive) and all(x.endswith(" alive") for x in alive), ", ".join(alive) or "not recorded")

    # --- VIP ---
    holders = {}
    for s in samples:
        holders[s["vip_on"]] = holders.get(s["vip_on"], 0) + 1
    check("vip", set(holders) == {"lb1"}, "samples per holder: " + ", ".join(f"{k} {v}" for k, v in sorted(holders.items())))

    # --- VRRP state and drop counters from /status ---
    vrrp_ok, vrrp_detail, drops_detail = True, [], []
    for node in ("lb1", "lb2"):
        try:
            st0 = json.load(open(W(f"status-{node}-start.json")))
            st1 = json.load(open(W(f"status-{node}-end.json")))
            c0 = st0["instances"][0]["counters"]
            c1 = st1["instances"][0]["counters"]
            state = st1["instances"][0].get("state")
        except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
            vrrp_ok = False
            vrrp_detail.append(f"{node}: no /status ({e.__class__.__name__})")
            continue
        moved = {k: c1[k] - c0.get(k, 0) for k in ("become_master", "become_backup", "become_fault",
                                                     "release_master", "transitions")
                 if isinstance(c1.get(k), int) and c1[k] != c0.get(k, 0)}
        if moved:
            vrrp_ok = False
        vrrp_detail.append(f"{node} {state}" + (f" changes {moved}" if moved else " no state change"))
        d0, d1 = c0.get("drops", {}), c1.get("drops", {})
        dd = {k: v - d0.get(k, 0) for k, v in d1.items() if v != d0.get(k, 0)}
        rc = c1.get("advert_rcvd", 0) - c0.get("advert_rcvd", 0)
        drops_detail.append(f"{node}: advert_rcvd +{rc}; drops " + (", ".join(f"{k} +{v}" for k, v in sorted(dd.items())) or "none"))
    check("vrrp-state", vrrp_ok, "; ".join(vrrp_detail))

    # --- reloads ---
    events = open(W("events.log")).read().splitlines() if os.path.exists(W("events.log")) else []
    problems = open(W("problems")).read().splitlines() if os.path.exists(W("problems")) else []
    reloads = [e for e in events if "generation" in e]
    check("reloads", not problems and bool(reloads) or not any(w["name"] == "lbproxy-reload" for w in windows),
          f"{len(reloads)} reloads, {len(problems)} not applied" + (": " + "; ".join(problems) if problems else ""))

    # --- recovery after each window ---
    rec_rows = []
    rec_ok = True
    for i, w in enumerate(windows):
        nxt = windows[i + 1]["t0"] if i + 1 < len(windows) else end_t + 1
        deadline = min(w["t1"] + a.recover, nxt)
        after = [s for s in samples if w["t1"] < s["t"] <= deadline]
        during = [s for s in samples if w["t0"] <= s["t"] <= w["t1"]]
        row = [w["name"], f"{w['t0']:.0f}-{w['t1']:.0f}"]
        for key, _ in DAEMONS:
            peak_f = max((num(s[f"{key}_fds"]) or 0 for s in during), default=0)
            peak_r = max((num(s[f"{key}_rss_kb"]) or 0 for s in during), default=0)
            back = None
            for j, s in enumerate(after):
                around = after[max(0, j - 2):j + 3]
                if fds_ok(median(num(x[f"{key}_fds"]) for x in around), key):
                    back = s["t"] - w["t1"]
                    break
            last = after[-1] if after else None
            rss_after = f"{(num(last[f'{key}_rss_kb']) or 0) / 1024:.1f}M" if last else "?"
            if back is None:
                rec_ok = False
                res = "NOT BACK (" + (f"{last[f'{key}_fds']}f at +{last['t'] - w['t1']:.0f}s" if last else "no sample") + ")"
            else:
                res = f"back +{max(back, 0):.0f}s"
            row.append(f"{peak_f:.0f}f {peak_r / 1024:.1f}M | {res}, {rss_after}")
        rec_rows.append(row)
    check("recovery", rec_ok and bool(windows), f"{len(windows)} fault windows: every daemon's open files "
          f"back under baseline + {a.fd_tol:.0f} at most {a.recover:.0f} s after each")

    # --- idle pool: CLOSE-WAIT at the end of each quiet period ---
    idle = []
    for w in windows:
        if w["name"] != "idle-close":
            continue
        last = [s for s in samples if w["t0"] <= s["t"] <= w["t1"]][-2:]
        idle.append(max((num(s["up_closewait"]) or 0 for s in last), default=0))
    if idle:
        check("idle-pool", max(idle) <= a.fd_tol, "upstream CLOSE-WAIT sockets at the end of each quiet period: "
              + ", ".join(f"{x:.0f}" for x in idle))

    # --- end level (files) ---
    end_ok, end_detail = True, []
    for key, label in DAEMONS:
        ef = median(num(s[f"{key}_fds"]) for s in tail)
        er = median(num(s[f"{key}_rss_kb"]) for s in tail)
        bf, br = base[key]["fds"], base[key]["rss"]
        if None in (ef, er, bf, br):
            end_ok = False
            end_detail.append(f"{label}: no samples")
            continue
        growth = 100 * (er - br) / br
        end_ok &= fds_ok(ef, key)
        end_detail.append(f"{label}: files {bf:.0f} -> {ef:.0f} (RSS {br / 1024:.1f} -> {er / 1024:.1f} MiB, {growth:+.1f}%)")
    check("end-files", end_ok, "; ".join(end_detail))

    # --- RSS growth: calm samples, last third against first third after the warmup ---
    span = end_t - a.warmup
    first = [s for s in samples if s["window"] == "calm" and a.warmup <= s["t"] < a.warmup + span / 3]
    last = [s for s in samples if s["window"] == "calm" and s["t"] >= end_t - span / 3]
    rss_ok, rss_detail = True, []
    for key, label in DAEMONS:
        r0 = median(num(s[f"{key}_rss_kb"]) for s in first)
        r1 = median(num(s[f"{key}_rss_kb"]) for s in last)
        if r0 is None or r1 is None:
            rss_ok = False
            rss_detail.append(f"{label}: no samples")
            continue
        rss_ok &= r1 <= r0 + max(r0 * a.rss_tol_pct / 100, 2048)
        rss_detail.append(f"{label} {r0 / 1024:.1f} -> {r1 / 1024:.1f} MiB ({100 * (r1 - r0) / r0:+.1f}%)")
    cycles = len(windows) >= 12
    check("rss-growth", rss_ok or not cycles,
          ("" if cycles else "not checked (one fault cycle), for information: ") + "; ".join(rss_detail))

    # --- errors ---
    def overlapping(s):
        return [w for w in windows if s["t0"] < w["t1"] + TAIL and s["t1"] > w["t0"]]

    unexplained, explained = [], []
    for s in slices:
        if s["bad"] == 0:
            continue
        ws = overlapping(s)
        if any(w["excuses"] for w in ws):
            explained.append((s, ws))
        else:
            unexplained.append((s, ws))
    total_req = sum(s["req"] for s in slices)
    total_bad = sum(s["bad"] for s in slices)
    check("errors", not unexplained,
          f"{total_req} requests, {total_bad} failed or non-2xx; {sum(s['bad'] for s, _ in unexplained)} "
          f"in {len(unexplained)} slices outside the windows that explain them")

    # --- write results.txt ---
    passed = all(ok for _, ok, _ in checks)
    out(f"soak test: {a.minutes} min, wrk -c{a.conns} in {a.slice}s slices through lbproxy to the VIP; "
        f"{len(windows)} fault windows: {'PASS' if passed else 'FAIL'}")
    if os.path.exists(W("build")):
        out("binaries: " + "; ".join(open(W("build")).read().splitlines()))
    out("")
    for name, ok, detail in checks:
        out(f"{'PASS' if ok else 'FAIL'}  {name:<11} {detail}")
    out("")
    out(f"baseline (median of {base_from:.0f}-{a.warmup:.0f} s, under load):")
    for key, label in DAEMONS:
        b = base[key]
        out(f"  {label:<10} files {b['fds']}, RSS {(b['rss'] or 0) / 1024:.1f} MiB")
    cpu = {key: [num(s[f"{key}_cpu_pct"]) for s in samples if s["t"] >= a.warmup] for key, _ in DAEMONS}
    out("CPU over the run (mean / max %): " + ", ".join(
        f"{label} {statistics.mean([c for c in cpu[key] if c is not None] or [0]):.1f} / "
        f"{max([c for c in cpu[key] if c is not None] or [0]):.1f}" for key, label in DAEMONS))
    hb = [num(s.get("host_busy_pct")) for s in samples if num(s.get("host_busy_pct")) is not None]
    if hb:
        out(f"whole machine ({os.cpu_count()} CPUs) busy: mean {statistics.mean(hb):.0f} %, max {max(hb):.0f} % "
            "(wrk, nginx and anything else running meanwhile)")
    cw = [num(s["up_closewait"]) or 0 for s in samples]
    out(f"lbproxy upstream sockets in CLOSE-WAIT: max {max(cw, default=0):.0f}, at the end {cw[-1] if cw else 0:.0f}")
    out("")
    out("fault windows (s); per daemon: peak files and RSS in the window | when the files were back")
    out(f"under baseline + {a.fd_tol:.0f} (5-s median), RSS at the end of the recovery time:")
    out(f"  {'window':<15} {'time':<9} " + "  ".join(f"{label:<30}" for _, label in DAEMONS))
    for r in rec_rows:
        out(f"  {r[0]:<15} {r[1]:<9} " + "  ".join(f"{c:<30}" for c in r[2:]))
    out("")
    out("requests per kind of window (wrk slices labelled by the windows they overlap):")
    per = {}
    for s in slices:
        ws = overlapping(s)
        label = "+".join(sorted({w["name"] for w in ws})) or "calm"
        if s["kind"] != "load":
            label = f"{s['kind']} ({label})"
        p = per.setdefault(label, [0, 0, 0, 0])
        p[0] += 1
        p[1] += s["req"]
        p[2] += s["err"]
        p[3] += int(s["non2xx"])
    out(f"  {'label':<40} {'slices':>6} {'requests':>10} {'errors':>7} {'non-2xx':>7}")
    for label, p in sorted(per.items()):
        out(f"  {label:<40} {p[0]:>6} {p[1]:>10} {p[2]:>7} {p[3]:>7}")
    if unexplained or explained:
        out("")
        out("slices with failed requests (connect/read/write/timeout errors, non-2xx, other):")
        tagged = [(s, ws, "explained") for s, ws in explained] + [(s, ws, "UNEXPLAINED") for s, ws in unexplained]
        for s, ws, tag in sorted(tagged, key=lambda x: x[0]["t0"]):
            out(f"  {s['kind']:<8} {s['t0']:7.1f}-{s['t1']:7.1f}s  {s['req']:>7} req  "
                f"c{s['err_connect']}/r{s['err_read']}/w{s['err_write']}/t{s['err_timeout']} non2xx {s['non2xx']} other {s['other_err']}"
                f"  [{', '.join(w['name'] for w in ws) or 'calm'}] {tag}")
    out("")
    out("vrrpd counters over the run (/status): " + "; ".join(drops_detail))
    if os.path.exists(W("logstats")):
        parts = []
        for row in open(W("logstats")).read().splitlines():
            name, total, warn, err, peak = (row.split() + ["?"])[:5]
            parts.append(f"{name} {total} lines ({warn} WARN, {err} ERROR; at most {peak} in one second)")
        out("daemon logs: " + "; ".join(parts))
    stats = read_stats(W("stats-end.csv"))
    if stats:
        out("lbproxy backend 'app' at the end (stats CSV; its counters start again at each reload, as "
            "HAProxy's do in a new process): " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    out("")
    out("events (s since the load started):")
    for e in events:
        out(f"  {e}")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "results.txt"), "w") as f:
        f.write(text)
    print(text, end="")
    write_gnuplot(a, windows, slices, samples)
    return 0 if passed else 1


def read_stats(path):
    if not os.path.exists(path):
        return {}
    rows = open(path).read().splitlines()
    if not rows or not rows[0].startswith("# "):
        return {}
    head = rows[0][2:].split(",")
    for r in rows[1:]:
        f = dict(zip(head, r.split(",")))
        if f.get("pxname") == "app" and f.get("svname") == "BACKEND":
            keys = ["stot", "econ", "eresp", "wretr", "wredis", "hrsp_2xx", "hrsp_5xx", "cli_abrt", "srv_abrt"]
            return {k: f.get(k, "") for k in keys if k in f}
    return {}


def write_gnuplot(a, windows, slices, samples):
    csvf = os.path.join(a.out, "soak.csv")
    png = os.path.join(a.out, "soak.png")
    wrkdat = os.path.join(a.work, "wrk.dat")
    cpudat = os.path.join(a.work, "vrrpd-cpu.dat")
    with open(cpudat, "w") as f:
        # vrrpd's CPU moves by whole clock ticks (1 % at 100 Hz): a 10-s mean reads better.
        for i, s in enumerate(samples):
            win = samples[max(0, i - 9):i + 1]
            m = [statistics.mean([num(x[k]) or 0 for x in win]) for k in ("vrrpd1_cpu_pct", "vrrpd2_cpu_pct")]
            f.write(f"{s['t']:.3f},{m[0]:.2f},{m[1]:.2f}\n")
    with open(wrkdat, "w") as f:
        # Requests/s and failures per load slice, as steps (start, value) ... (end, value).
        for s in slices:
            if s["kind"] != "load" or s["t1"] <= s["t0"]:
                continue
            rate = s["req"] / (s["t1"] - s["t0"])
            f.write(f"{s['t0']:.3f} {rate:.1f} {s['bad']}\n{s['t1']:.3f} {rate:.1f} {s['bad']}\n\n")

    def top(col, scale=1.0):  # y2 range for the vrrpd lines: room above them
        vals = [num(s[col]) for s in samples if num(s[col]) is not None]
        return max(vals, default=1) / scale * 1.6 or 1

    v_files = max(top("vrrpd1_fds"), top("vrrpd2_fds"))
    v_rss = max(top("vrrpd1_rss_kb", 1024), top("vrrpd2_rss_kb", 1024))
    g = [
        "set terminal pngcairo size 1400,1500 font 'DejaVu Sans,10'",
        f"set output '{png}'",
        "set datafile separator ','",
        "set key outside top center horizontal samplen 3",
        "set grid",
        f"set xrange [0:{a.minutes * 60}]",
        "set ytics nomirror",
        "set y2tics",
        "set yrange [0:*]",
        "set lmargin 11",
        "set rmargin 11",
    ]
    for i, w in enumerate(windows):
        c = COLORS.get(w["name"], "#999999")
        g.append(f"set object {i + 1} rect from {w['t0']},graph 0 to {w['t1']},graph 1 behind "
                 f"fc rgb '{c}' fs solid 0.22 noborder")
    g.append("set multiplot layout 4,1 title "
             f"'halb soak test: {a.minutes} min, wrk -c{a.conns} through lbproxy; shaded: fault windows' font ',13'")
    for i, w in enumerate(windows):
        c = COLORS.get(w["name"], "#999999")
        g.append(f"set label {i + 1} '{w['name']}' at {w['t0']},graph 0.97 rotate by 90 right "
                 f"front font ',9' tc rgb '{c}'")
    lines = "with lines lw 2"
    g += [
        "set ylabel 'lbproxy: open files, sockets'",
        f"set y2label 'vrrpd: open files'",
        f"set y2range [0:{v_files:.0f}]",
        f"plot '{csvf}' using 1:3 skip 1 {lines} lc rgb '#1f77b4' title 'lbproxy open files', "
        f"'' using 1:13 skip 1 with lines lw 1 lc rgb '#d62728' title 'lbproxy upstream CLOSE-WAIT', "
        f"'' using 1:6 skip 1 axes x1y2 {lines} lc rgb '#2ca02c' title 'vrrpd lb1 (right axis)', "
        f"'' using 1:9 skip 1 axes x1y2 with lines lw 1 dt 2 lc rgb '#ff7f0e' title 'vrrpd lb2 (right axis)'",
        "unset label",
        "set ylabel 'lbproxy: RSS MiB'",
        "set y2label 'vrrpd: RSS MiB'",
        f"set y2range [0:{v_rss:.1f}]",
        f"plot '{csvf}' using 1:($4/1024) skip 1 {lines} lc rgb '#1f77b4' title 'lbproxy RSS', "
        f"'' using 1:($7/1024) skip 1 axes x1y2 {lines} lc rgb '#2ca02c' title 'vrrpd lb1 (right axis)', "
        f"'' using 1:($10/1024) skip 1 axes x1y2 with lines lw 1 dt 2 lc rgb '#ff7f0e' title 'vrrpd lb2 (right axis)'",
        "set ylabel 'lbproxy: CPU % (of one CPU)'",
        "set y2label 'vrrpd: CPU %'",
        "set y2range [0:*]",
        f"plot '{csvf}' using 1:16 skip 1 with lines lw 1 lc rgb '#aaaaaa' title 'whole machine busy % (all CPUs)', "
        f"'' using 1:5 skip 1 with lines lw 1 lc rgb '#1f77b4' title 'lbproxy CPU', "
        f"'{cpudat}' using 1:2 axes x1y2 with lines lw 2 lc rgb '#2ca02c' title 'vrrpd lb1, 10-s mean (right axis)', "
        f"'' using 1:3 axes x1y2 with lines lw 2 dt 2 lc rgb '#ff7f0e' title 'vrrpd lb2, 10-s mean (right axis)'",
        "set datafile separator whitespace",
        "set ylabel 'wrk: requests/s'",
        "set y2label 'failed or non-2xx per slice'",
        "set y2range [0:*]",
        "set xlabel 'seconds since the load started'",
        f"plot '{wrkdat}' using 1:2 {lines} lc rgb '#1f77b4' title 'requests/s (wrk slices)', "
        f"'' using 1:3 axes x1y2 {lines} lc rgb '#d62728' title 'failed requests (right axis)'",
        "unset multiplot",
    ]
    with open(os.path.join(a.work, "soak.gp"), "w") as f:
        f.write("\n".join(g) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
