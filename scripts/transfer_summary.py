#!/usr/bin/env python3
"""Summarises scripts/transfer_experiment.sh's results.csv (standard library only):
mean ± sd test accuracy per target, labels per class and method (summary.csv and a
Markdown table on stdout), and accuracy.svg: accuracy against labels per class, one line
per method, one panel per target.

    python3 scripts/transfer_summary.py docs/transfer/results.csv docs/transfer
"""
import csv
import os
import statistics
import sys

METHODS = ["scratch", "probe", "top", "all"]
LABELS = {"scratch": "from scratch", "probe": "linear probe (F6)",
          "top": "fine-tune top (F6, head)", "all": "fine-tune all"}
COLOURS = {"scratch": "#444444", "probe": "#1f77b4", "top": "#2ca02c", "all": "#d62728"}
SIZES = ["10", "50", "all"]


def main(results, out):
    rows = list(csv.DictReader(open(results)))
    cells = {}
    for r in rows:
        cells.setdefault((r["target"], r["labels_per_class"], r["method"]), []).append(
            float(r["test_accuracy"]))
    targets = [t for t in ["uci", "textures"] if any(k[0] == t for k in cells)]
    with open(os.path.join(out, "summary.csv"), "w") as f:
        f.write("target,labels_per_class,method,runs,mean,sd\n")
        for (t, k, m), v in sorted(cells.items()):
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            f.write(f"{t},{k},{m},{len(v)},{statistics.mean(v):.4f},{sd:.4f}\n")
    for t in targets:
        print(f"\n{t}: test accuracy (%), mean ± sd over seeds\n")
        print("| method | " + " | ".join(f"{k} per class" for k in SIZES) + " |")
        print("|---|" + "---|" * len(SIZES))
        for m in METHODS:
            vals = []
            for k in SIZES:
                v = cells.get((t, k, m))
                vals.append("—" if not v else
                            f"{100 * statistics.mean(v):.1f} ± {100 * (statistics.stdev(v) if len(v) > 1 else 0):.1f}")
            print(f"| {LABELS[m]} | " + " | ".join(vals) + " |")
    # the plot
    pw, ph, ml, mt, mb = 420, 300, 60, 40, 50
    width = ml + len(targets) * (pw + 30) + 170
    height = mt + ph + mb
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for p, t in enumerate(targets):
        x0 = ml + p * (pw + 30)
        vals = [statistics.mean(v) for (tt, _, _), v in cells.items() if tt == t]
        lo = max(0.0, min(vals) - 0.05)
        hi = min(1.0, max(vals) + 0.02)
        X = lambda i: x0 + 30 + i * (pw - 60) / (len(SIZES) - 1)  # noqa: E731
        Y = lambda a: mt + ph - (a - lo) / (hi - lo) * ph  # noqa: E731
        svg.append(f'<rect x="{x0}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        title = "UCI digits (target related)" if t == "uci" else "textures (target unrelated)"
        svg.append(f'<text x="{x0 + pw / 2}" y="{mt - 12}" text-anchor="middle" font-size="14">{title}</text>')
        for j in range(6):
            a = lo + j * (hi - lo) / 5
            svg.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{Y(a):.1f}" y2="{Y(a):.1f}" stroke="#eee"/>')
            svg.append(f'<text x="{x0 - 6}" y="{Y(a) + 4:.1f}" text-anchor="end">{100 * a:.0f} %</text>')
        for i, k in enumerate(SIZES):
            svg.append(f'<text x="{X(i):.1f}" y="{mt + ph + 18}" text-anchor="middle">{k}</text>')
        svg.append(f'<text x="{x0 + pw / 2}" y="{mt + ph + 38}" text-anchor="middle">labels per class</text>')
        for m in METHODS:
            pts = [(X(i), Y(statistics.mean(cells[(t, k, m)])))
                   for i, k in enumerate(SIZES) if (t, k, m) in cells]
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            svg.append(f'<polyline points="{path}" fill="none" stroke="{COLOURS[m]}" stroke-width="2"/>')
            svg += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOURS[m]}"/>' for x, y in pts]
    lx = ml + len(targets) * (pw + 30)
    for j, m in enumerate(METHODS):
        y = mt + 20 + j * 20
        svg.append(f'<line x1="{lx}" x2="{lx + 20}" y1="{y}" y2="{y}" stroke="{COLOURS[m]}" stroke-width="2"/>')
        svg.append(f'<text x="{lx + 26}" y="{y + 4}">{LABELS[m]}</text>')
    svg.append("</svg>")
    open(os.path.join(out, "accuracy.svg"), "w").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
