"""Turns the rounds of a comparison into medians and Kotak/Dovecot ratios,
and prints them as a table for people (or returns them for `--json`). When
a scenario also ran against Dovecot with full-text search (`FTS`), its
medians and Kotak's ratio to them get columns of their own."""

import statistics

from servers import DovecotFts

FTS = DovecotFts.name
BETTER = {True: "higher", False: "lower", None: "-"}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(kotak, dovecot):
    """Kotak/Dovecot, or None when it means nothing (a zero or a missing side)."""
    if kotak is None or dovecot is None or dovecot == 0 or kotak == 0:
        return None
    return kotak / dovecot


def verdict(figure, kotak, r, kotak_rounds=()):
    """Whether the issue's goal for this figure is met, or '' without a goal."""
    if figure.goal_when is not None:
        what, applies = figure.goal_when
        if not kotak_rounds or not all(applies(j) for j in kotak_rounds):
            return f"goal <= {figure.kotak_max:g} is {what}: not measured here"
    if figure.goal is not None and figure.lower_goal:
        return "" if r is None else (f"goal <= {figure.goal:.2g}x: " + ("met" if r <= figure.goal else "NOT met"))
    if figure.goal is not None:
        return "" if r is None else (f"goal >= {figure.goal:g}x: " + ("met" if r >= figure.goal else "NOT met"))
    if figure.kotak_max is not None and kotak is not None:
        return f"goal <= {figure.kotak_max:g}: " + ("met" if kotak <= figure.kotak_max else "NOT met")
    return ""


def summarize(scenario, results):
    """Rows (one per figure) from `results[server] = [json of each round]`."""
    rows = []
    for f in scenario.figures:
        per_server = {s: [f.read(j) for j in runs] for s, runs in results.items()}
        k, d = median(per_server.get("Kotak", [])), median(per_server.get("Dovecot", []))
        r = ratio(k, d)
        row = {
            "figure": f.label,
            "kotak": k,
            "dovecot": d,
            "ratio": r,
            "better": BETTER[f.higher_is_better],
            "goal": verdict(f, k, r, results.get("Kotak", [])),
            "rounds": per_server,
        }
        if FTS in per_server:
            row["dovecot_fts"] = median(per_server[FTS])
            row["ratio_fts"] = ratio(k, row["dovecot_fts"])
        rows.append(row)
    return rows


def print_cpu_summary(tables, label):
    """One line per scenario that has the figure `label` (server CPU per
    command or per message): both servers' medians and Kotak/Dovecot."""
    lines = [(sc.name, r) for sc, rows, _ in tables for r in rows if r["figure"] == label]
    if not lines:
        return
    print()
    print(f"== {label}, every scenario")
    print(f"{'scenario':<20} {'Kotak':>10} {'Dovecot':>10} {'K/D':>7}  goal")
    for name, r in lines:
        print(f"{name:<20} {fmt(r['kotak']):>10} {fmt(r['dovecot']):>10} {fmt_ratio(r['ratio']):>7}  {r['goal']}")


def fmt(v):
    if v is None:
        return "-"
    if float(v).is_integer():
        return f"{int(v):,}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def print_header(meta):
    m = meta["machine"]
    print(f"Kotak vs Dovecot, {meta['date']}  (medians of {meta['rounds']} rounds after a warm-up, "
          f"servers run alternately)")
    print(f"machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}")
    f = m["fsync"]
    print(f"disk: 4 KiB write + fdatasync {f['median_ms']} ms median, {f['p99_ms']} ms p99 "
          f"({f['syncs_per_second']}/s, {f['samples']} samples)")
    print(f"accounts: {meta['users']}; client and both servers on this machine (loopback)")
    for server, settings in meta["servers"].items():
        print(f"{server}:")
        for k, v in settings.items():
            print(f"  {k:<11} {v}")


def fmt_ratio(r):
    """Two decimals, or two significant digits below 0.1."""
    if r is None:
        return "-"
    return f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"


def print_table(scenario, rows, notes=()):
    """The scenario's figures, then its notes (set-up facts), one a line."""
    fts = any("dovecot_fts" in r for r in rows)
    extra_head = f" {'Dovecot+fts':>11} {'K/D+fts':>7}" if fts else ""
    print()
    print(f"== {scenario.name}: {scenario.summary}")
    print(f"{'figure':<22} {'Kotak':>10} {'Dovecot':>10} {'K/D':>7}{extra_head}  {'better':<6}  {'goal'}")
    for r in rows:
        extra = f" {fmt(r.get('dovecot_fts')):>11} {fmt_ratio(r.get('ratio_fts')):>7}" if fts else ""
        print(f"{r['figure']:<22} {fmt(r['kotak']):>10} {fmt(r['dovecot']):>10} {fmt_ratio(r['ratio']):>7}{extra}  "
              f"{r['better']:<6}  {r['goal']}")
    for note in notes:
        print(f"  {note}")
