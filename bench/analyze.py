#!/usr/bin/env python3
"""Summarizes per-call latency files (one value in microseconds per line).

usage: analyze.py OUT.md PLOT.dat NAME=FILE...
Writes a Markdown table (median, p10, p90, interquartile range, calls, ratio
to the first contender) and a data file of each contender's CDF for gnuplot.
"""
import statistics
import sys


def quantile(sorted_values, q):
    if not sorted_values:
        return float('nan')
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


def main(out_md, plot_dat, pairs):
    rows = []
    for pair in pairs:
        name, path = pair.split('=', 1)
        with open(path) as f:
            values = sorted(float(line) for line in f if line.strip())
        rows.append((name, values))
    base = statistics.median(rows[0][1])
    with open(out_md, 'w') as md:
        md.write('| contender | calls | median | p10 | p90 | IQR | median / first row |\n')
        md.write('| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n')
        for name, v in rows:
            med = statistics.median(v)
            iqr = quantile(v, 0.75) - quantile(v, 0.25)
            md.write(f'| {name} | {len(v)} | {med:.0f} µs | {quantile(v, 0.1):.0f} µs | '
                     f'{quantile(v, 0.9):.0f} µs | {iqr:.0f} µs | {med / base:.2f} |\n')
    with open(plot_dat, 'w') as dat:
        for name, v in rows:
            dat.write(f'# {name}\n')
            step = max(1, len(v) // 400)
            for i in range(0, len(v), step):
                dat.write(f'{v[i]:.1f} {(i + 1) / len(v):.4f}\n')
            dat.write('\n\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
