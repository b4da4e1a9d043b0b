// The chart of make bench (target/bench/chart.svg): for password sign-in and for the signed-in
// Security & Access page, throughput and p50/p99 latency against the offered load (oha at a
// constant rate, a fraction of the capacity measured earlier in the same run). Plain SVG, no
// dependencies.

const W = 1000;
const H = 820;
const PANEL_W = 400;
const PANEL_H = 250;
const COLORS = { admitted: '#1f6feb', refused: '#d1242f', offered: '#8c959f', p50: '#1a7f37', p99: '#9a6700', goal: '#d1242f', capacity: '#8250df' };

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const fmt = (v) => (v === 0 ? '0' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2));

/**
 * One panel at (x, y): `series` = [{ name, color, points: [[x, y]], dash? }], `lines` = horizontal
 * reference lines [{ y, label, color }]; `log` = logarithmic y axis (latency).
 */
function panel({ x, y, title, xLabel, yLabel, xMax, yMax, yMin = 0, log = false, series, lines = [] }) {
  const out = [];
  const px = (v) => x + (v / xMax) * PANEL_W;
  const lo = log ? Math.log10(yMin) : yMin;
  const hi = log ? Math.log10(yMax) : yMax;
  const py = (v) => {
    const t = ((log ? Math.log10(Math.max(v, yMin)) : v) - lo) / (hi - lo);
    return y + PANEL_H - Math.min(1, Math.max(0, t)) * PANEL_H;
  };
  out.push(`<text x="${x}" y="${y - 12}" class="title">${esc(title)}</text>`);
  out.push(`<rect x="${x}" y="${y}" width="${PANEL_W}" height="${PANEL_H}" class="frame"/>`);
  // grid and ticks
  const yTicks = log ? Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)) : Array.from({ length: 6 }, (_, i) => (yMax * i) / 5);
  for (const t of yTicks) {
    out.push(`<line x1="${x}" x2="${x + PANEL_W}" y1="${py(t)}" y2="${py(t)}" class="grid"/>`);
    out.push(`<text x="${x - 6}" y="${py(t) + 4}" class="tick" text-anchor="end">${fmt(t)}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const t = (xMax * i) / 5;
    out.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${y}" y2="${y + PANEL_H}" class="grid"/>`);
    out.push(`<text x="${px(t)}" y="${y + PANEL_H + 16}" class="tick" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<text x="${x + PANEL_W / 2}" y="${y + PANEL_H + 34}" class="label" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(${x - 46} ${y + PANEL_H / 2}) rotate(-90)" class="label" text-anchor="middle">${esc(yLabel)}</text>`);
  for (const l of lines) {
    out.push(`<line x1="${x}" x2="${x + PANEL_W}" y1="${py(l.y)}" y2="${py(l.y)}" stroke="${l.color}" stroke-dasharray="6 4" stroke-width="1.2"/>`);
    out.push(`<text x="${x + 6}" y="${py(l.y) - 4}" class="tick" text-anchor="start" fill="${l.color}">${esc(l.label)}</text>`);
  }
  let ly = y + 14;
  for (const s of series) {
    const pts = s.points.filter(([, v]) => Number.isFinite(v));
    if (pts.length) {
      out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''} points="${pts.map(([a, b]) => `${px(a).toFixed(1)},${py(b).toFixed(1)}`).join(' ')}"/>`);
      if (!s.dash) for (const [a, b] of pts) out.push(`<circle cx="${px(a).toFixed(1)}" cy="${py(b).toFixed(1)}" r="3.5" fill="${s.color}"><title>${esc(`${s.name}: ${fmt(b)} at ${fmt(a)}/s offered`)}</title></circle>`);
    }
    out.push(`<line x1="${x + 10}" x2="${x + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`);
    out.push(`<text x="${x + 36}" y="${ly}" class="legend">${esc(s.name)}</text>`);
    ly += 16;
  }
  return out.join('\n');
}

export function chartSvg(results) {
  const { signIn, page } = results.curves;
  const m = results.machine;
  const parts = [];
  const rows = [
    ['Password sign-in (POST /api/auth/sign-in)', signIn, true],
    ['Signed-in Security & Access page (GET /settings/security)', page, false],
  ];
  rows.forEach(([name, curve, isSignIn], i) => {
    if (!curve?.points?.length) return;
    const pts = curve.points;
    const y = 100 + i * 370;
    parts.push(`<text x="20" y="${y - 36}" class="row">${esc(name)}</text>`);
    const xMax = niceMax(Math.max(...pts.map((p) => p.rate)));
    const tMax = niceMax(Math.max(xMax, ...pts.map((p) => p.throughput)));
    const series = [
      { name: 'offered', color: COLORS.offered, points: [[0, 0], [xMax, xMax]], dash: '3 3' },
      { name: isSignIn ? 'admitted (signed in) per s' : 'answered per s', color: COLORS.admitted, points: pts.map((p) => [p.rate, p.throughput]) },
    ];
    if (isSignIn) series.push({ name: 'refused (429/503) per s', color: COLORS.refused, points: pts.map((p) => [p.rate, p.refused / p.seconds]) });
    parts.push(
      panel({
        x: 80,
        y,
        title: 'Throughput',
        xLabel: 'offered load (requests/s)',
        yLabel: 'requests/s',
        xMax,
        yMax: tMax,
        series,
        lines: [{ y: curve.capacity, label: `capacity ${fmt(curve.capacity)}/s (wrk)`, color: COLORS.capacity }],
      }),
    );
    const lat = pts.flatMap((p) => [p.p50, p.p99]).filter(Number.isFinite);
    const lMax = 10 ** Math.ceil(Math.log10(Math.max(isSignIn ? 1000 : 10, ...lat) * 1.01));
    const lMin = 10 ** Math.floor(Math.log10(Math.max(0.1, Math.min(...lat, isSignIn ? 10 : 1))));
    parts.push(
      panel({
        x: 560,
        y,
        title: isSignIn ? 'Latency of admitted sign-ins' : 'Latency',
        xLabel: 'offered load (requests/s)',
        yLabel: 'ms (log scale)',
        xMax,
        yMax: lMax,
        yMin: lMin,
        log: true,
        series: [
          { name: 'p50', color: COLORS.p50, points: pts.map((p) => [p.rate, p.p50]) },
          { name: 'p99', color: COLORS.p99, points: pts.map((p) => [p.rate, p.p99]) },
        ],
        lines: isSignIn ? [{ y: 1000, label: 'goal: p99 < 1 s', color: COLORS.goal }] : [],
      }),
    );
  });
  const cfg = results.config;
  const caption = [
    `make bench ${m.date}, commit ${m.commit}${m.dirty ? ' (uncommitted changes)' : ''}, ${m.nproc} × ${m.model}; server, Postgres and oha share the cores.`,
    `oha at a constant rate with latency correction, ${cfg.stepSeconds} s per point (${cfg.overloadSeconds} s at 2× sign-in capacity); capacity = the wrk peak rate measured earlier in the run.`,
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">
<style>
.title { font-size: 14px; font-weight: 600; fill: #1f2328; }
.frame { fill: #ffffff; stroke: #d0d7de; }
.grid { stroke: #eaeef2; }
.tick { font-size: 11px; fill: #57606a; }
.label { font-size: 12px; fill: #24292f; }
.legend { font-size: 12px; fill: #24292f; }
.caption { font-size: 11px; fill: #57606a; }
.row { font-size: 15px; font-weight: 600; fill: #1f2328; }
</style>
<rect width="${W}" height="${H}" fill="#f6f8fa"/>
<text x="20" y="30" font-size="18" font-weight="600" fill="#1f2328">Gatehouse: throughput and latency against offered load</text>
${parts.join('\n')}
<text x="20" y="${H - 30}" class="caption">${esc(caption[0])}</text>
<text x="20" y="${H - 14}" class="caption">${esc(caption[1])}</text>
</svg>
`;
}
