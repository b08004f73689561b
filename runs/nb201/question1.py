"""Question 1 of the nb201 study, a helper for its notes (from the repository root: python runs/nb201/question1.py
runs/nb201/work, or a trials.csv): each row's mean, 95% CI, above the random cell's 87.06?, gap to 94.37, and
the pairs of rows whose difference exceeds the t-test's detectable difference at their n with their pooled std."""
import itertools
import json
import math
import sys
from pathlib import Path

import pandas as pd

from benchmarks.experiments.stats import ci95, mean_std, min_detectable_difference

src = Path(sys.argv[1])
if src.suffix == ".csv":
    t = pd.read_csv(src)
else:
    t = pd.DataFrame([r for f in sorted(src.glob("*/result.json")) for r in json.loads(f.read_text())["rows"]])
    t["row"] = t["label"] + " | " + t["parse"].fillna("")
ok = t[t.status == "ok"]
vals = {r: g["nb201_cifar10_test"].astype(float) for r, g in ok.groupby("row", sort=False)}
for r, v in vals.items():
    c = ci95(v)
    lo = float(c.strip("[]").split(",")[0]) if c != "-" else float("nan")
    print(f"{r:28s} {mean_std(v):16s} CI {c:18s} above 87.06: {lo > 87.06}  gap to 94.37: {94.37 - v.mean():.2f}")
print("pairs resolved (|diff| > MDD at n with pooled std):")
for a, b in itertools.combinations(vals, 2):
    va, vb = vals[a], vals[b]
    n = min(len(va), len(vb))
    pooled = math.sqrt((va.var(ddof=1) + vb.var(ddof=1)) / 2)
    mdd = min_detectable_difference(pooled, n)
    d = va.mean() - vb.mean()
    if abs(d) > mdd:
        print(f"  {a} vs {b}: diff {d:+.2f} > {mdd:.2f}")
