// target/bench/report.md and the README's bench block, from the results of scripts/bench/run.mjs.
// `node scripts/bench/report.mjs [target/bench/results.json]` rewrites the report (and the chart)
// from saved results without measuring again.
import fs from 'node:fs';
import path from 'node:path';

const n0 = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const n1 = (v) => (Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }) : 'n/a');
const r2 = (v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
const ms = (v) => (Number.isFinite(v) ? (v >= 100 ? n0(v) : v.toFixed(1)) + ' ms' : 'n/a');
const bytes = (v) => (Number.isFinite(v) ? `${n0(v)} B` : 'n/a');

function met(m, { show = (a) => r2(a.ratio) } = {}) {
  if (!m) return '—';
  const word = m.met ? 'yes' : '**no**';
  const aside =
    (m.setAside?.length ? `; set aside as disturbed: ${m.setAside.map((a) => `${show(a)} (${a.why})`).join(', ')}` : '') +
    // (set aside as often as allowed, the last run stands even if it was disturbed as well)
    (m.disturbed ? `; this run disturbed as well: ${m.disturbed}` : '');
  if (!m.repeated) return aside ? `${word} (${aside.slice(2)})` : word;
  const first = m.attempts[0];
  return m.met ? `yes (2nd run; 1st missed: ${show(first)}${aside})` : `**no** (missed twice: ${m.attempts.map(show).join(', ')}${aside})`;
}

/** The rows of the table: [measure, subject, baseline, ratio, goal, met]. */
export function tableRows(res) {
  const M = res.measures;
  const rows = [];
  const failed = (key, name) => {
    if (M[key]?.error) {
      rows.push([name, `not measured: ${M[key].error.split('\n')[0].slice(0, 120)}`, '—', '—', '—', '**error**']);
      return true;
    }
    return !M[key];
  };
  if (!failed('1', '1. Password sign-ins ÷ raw argon2id verifications')) {
    const m = M['1'];
    rows.push(['1. Password sign-ins ÷ raw argon2id verifications', `${n1(m.subject.rps)} sign-ins/s (HTTP, wrk)`, `${n1(m.baseline.verifications_per_s)} verifications/s (argon2_bench, ${m.baseline.threads} threads)`, r2(m.ratio), '≥ 0.9', met(m)]);
  }
  if (!failed('2', '2. Passkey ÷ password sign-ins')) {
    const m = M['2'];
    rows.push(['2. Passkey ÷ password sign-ins', `${n1(m.subject.rps)} passkey sign-ins/s`, `${n1(m.baseline.rps)} password sign-ins/s`, n1(m.ratio), '≥ 20', met(m, { show: (a) => n1(a.ratio) })]);
  }
  if (!failed('3', '3. Signed-in ÷ anonymous `GET /api/session`')) {
    const m = M['3'];
    rows.push(['3. Signed-in ÷ anonymous `GET /api/session`', `${n0(m.subject.rps)} req/s signed in`, `${n0(m.baseline.rps)} req/s anonymous`, r2(m.ratio), '≥ 0.5', met(m)]);
  }
  if (!failed('4', '4. Signed-in Security & Access ÷ anonymous sign-in page')) {
    const m = M['4'];
    rows.push(['4. Signed-in Security & Access ÷ anonymous sign-in page', `${n0(m.subject.rps)} req/s \`/settings/security\``, `${n0(m.baseline.rps)} req/s \`/sign-in\``, r2(m.ratio), '≥ 0.5', met(m)]);
  }
  if (!failed('5', '5. Overload at 2× sign-in capacity')) {
    const m = M['5'];
    const p = m.point;
    const secs = res.config.overloadSeconds;
    const rep = m.repeated ? ' (2nd run: the 1st missed a goal of this measure)' : '';
    rows.push([`5. Overload, ${n1(m.rate)}/s offered (2× capacity) for ${secs} s: admitted p99`, `${ms(p.p99)} (p50 ${ms(p.p50)}; ${n1(p.throughput)}/s admitted)`, 'limit 1,000 ms', r2(p.p99 / 1000), '< 1', (m.checks.p99 ? 'yes' : '**no**') + rep]);
    const refusedStatuses = Object.entries(p.statuses).filter(([s]) => s === '429' || s === '503').map(([s, c]) => `${n0(c)} × ${s}`).join(', ') || 'none';
    rows.push([
      '5. … excess answered 503/429 at once, with `Retry-After`',
      `${refusedStatuses} (p99 ${ms(p.refusedP99)}); probes: ${m.probes.withRetryAfter}/${m.probes.refused} refusals had \`Retry-After\``,
      `${n0(p.offered)} offered, ${n0(p.admitted)} admitted`,
      m.probes.refused ? r2(m.probes.withRetryAfter / m.probes.refused) : 'n/a',
      '= 1 (all)',
      (m.checks.refusals ? 'yes' : '**no**') + rep,
    ]);
    const five = Object.entries(p.statuses).filter(([s]) => s >= 500 && s !== '503').reduce((a, [, c]) => a + c, 0) + (m.probes.statuses?.['500'] ?? 0);
    rows.push(['5. … answers 500 (or other 5xx but 503)', String(five), '—', '—', '0', (m.checks.no500 ? 'yes' : '**no**') + rep]);
    rows.push([
      '5. … server peak RSS (VmHWM)',
      `${n1(m.rss.peakMiB)} MiB`,
      `budget ${n1(m.rss.budgetMiB)} MiB (${res.argon2.max_concurrent} permits × ${n1(res.argon2.memory_kib / 1024)} MiB + 64 MiB)`,
      r2(m.rss.peakMiB / m.rss.budgetMiB),
      '≤ 1',
      (m.checks.rss ? 'yes' : '**no**') + rep,
    ]);
  }
  if (!failed('6', '6. Browser bundle: wasm, brotli')) {
    const m = M['6'];
    rows.push([
      '6. Browser bundle: wasm, brotli (quality 11)',
      `${bytes(m.wasmBrotli)} (raw ${bytes(m.wasmRaw)})${m.release ? '' : ' — not a release build'}`,
      `budget ${bytes(m.budget)}`,
      r2(m.ratio),
      '≤ 1',
      m.met ? 'yes' : '**no** (fails `make bench`)',
    ]);
    const list = (l) => l.map((f) => `${f.file} ${bytes(f.raw)} raw / ${bytes(f.brotli)} br`).join('; ') || 'none';
    rows.push(['6. … JS glue and CSS beside it', `${list(m.js)}; ${list(m.css)}`, '—', '—', 'reported', '—']);
  }
  if (!failed('7', '7. Bytes over the wire, Security & Access page')) {
    const m = M['7'];
    rows.push([
      '7. Bytes over the wire, Security & Access page: warm ÷ cold',
      `warm ${bytes(m.warm.bytes)} (${m.warm.requests} requests, ${m.warm.fromCache} from cache)`,
      `cold ${bytes(m.cold.bytes)} (${m.cold.requests} requests)`,
      r2(m.ratio),
      'reported',
      '—',
    ]);
  }
  for (const key of ['8a', '8b']) {
    const name = `8. Lighthouse (mobile) ${key === '8a' ? '`/sign-in`' : '`/settings/security`, signed in'}`;
    if (failed(key, name)) continue;
    const m = M[key];
    const s = m.scores;
    rows.push([
      name,
      `performance ${s.performance} · accessibility ${s.accessibility} · best practices ${s.bestPractices} · CLS ${m.cls?.toFixed(3)}`,
      '—',
      `${r2(m.ratio)} (lowest ÷ 95)`,
      '≥ 95 each, CLS ≤ 0.02',
      met(m, { show: (a) => r2(a.ratio) }),
    ]);
  }
  return rows;
}

export function tableMarkdown(res) {
  const head = ['Measure', 'Subject', 'Baseline', 'Ratio', 'Goal', 'Met'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of tableRows(res)) lines.push(`| ${r.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`);
  return lines.join('\n');
}

function machineLine(res) {
  const m = res.machine;
  const busy = Number.isFinite(m.busyBefore) ? `, ${Math.round(m.busyBefore * 100)}% busy with other work just before the measures` : '';
  return `${m.nproc} CPUs (${m.model}), ${m.memoryGiB} GiB; ${m.date}; commit ${m.commit}${m.dirty ? ' with uncommitted changes' : ''}; load average at start ${m.loadavg.join(' ')}${busy}`;
}

function cpuText(c) {
  if (!c) return '';
  const threads = Object.entries(c.threadsMs ?? {})
    .filter(([, v]) => v >= 0.05 * c.serverMs)
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(', ');
  return `CPU per request: server ${c.serverMs.toFixed(3)} ms${threads ? ` (by thread: ${threads})` : ''}, Postgres ${c.postgresMs.toFixed(3)} ms, rest (load generator, mostly) ${c.otherMs.toFixed(3)} ms; the machine ${Math.round(c.busyShare * 100)}% busy`;
}

function methodLines(res) {
  const M = res.measures;
  const cfg = res.config;
  const a = res.argon2 ?? {};
  const cores = res.cores ?? {};
  const where = `Server (\`${cfg.serverBin}\`) allowed on cores ${cores.server}, Postgres (the project-local cluster: fsync and synchronous_commit off) on ${cores.postgres}, load generator on ${cores.loadgen}: no pinning, all share the machine's ${res.machine.nproc} CPUs`;
  const enc = cfg.acceptEncoding ? `\`Accept-Encoding: ${cfg.acceptEncoding}\`` : 'no `Accept-Encoding`';
  const lines = [];
  if (M['1'] && !M['1'].error) {
    const m = M['1'];
    lines.push(
      `1. Baseline: \`server/examples/argon2_bench\` (argon2 0.5, argon2id m=${a.memory_kib} KiB, t=${a.iterations}, p=${a.parallelism}, read through \`server::Config::load\`), ${m.baseline.threads} threads (one per core) verifying one hash in a loop as the server's hashing threads do (argon2id into memory each thread allocated once, the output compared with the stored one), ${n1(m.baseline.seconds)} s in two halves (${(m.baseline.halves ?? []).map(n1).join(' and ')}/s) alternating with the subject's (A B B A). ` +
        `Subject: ${m.subject.tool} (connections = 2 × \`[argon2] max_concurrent\` ${a.max_concurrent}), POSTing \`/api/auth/sign-in\` over HTTP/1.1 loopback (\`scripts/bench/sign-in.lua\`), rotating over ${cfg.accounts} accounts; ` +
        `${n0(m.subject.ok)} signed in, ${n0(m.subject.failed)} not (statuses ${JSON.stringify(m.subject.statuses)}). Per-network limits raised and the account throttle's free attempts set to 99 (${cfg.serverEnv || 'see bench.sh'}). ${cpuText(m.subject.cpu)}. ${where}.`,
    );
  }
  if (M['2'] && !M['2'].error) {
    const m = M['2'];
    lines.push(
      `2. \`server/examples/sign_in_bench\`: the server's router in-process (no sockets, same release profile), ${m.workers} concurrent workers with an account each, ${n1(m.seconds)} s of password sign-ins and ${n1(m.seconds)} s of passkey sign-ins (begin, a software authenticator's P-256 assertion, finish) in halves alternating A B B A (password, passkey, passkey, password${m.baseline?.halves ? `: ${m.baseline.halves.map((h) => n1(h)).join(' and ')} password, ${m.subject.halves.map((h) => n1(h)).join(' and ')} passkey sign-ins/s` : ''}), against a database of its own; per-network limits off in its configuration; both sides on this one harness, cores ${cores.loadgen}.`,
    );
  }
  for (const [k, what] of [['3', '`GET /api/session` with `Accept: application/json`'], ['4', '`GET /sign-in` (anonymous) and `GET /settings/security` (signed in) with `Accept: text/html`']]) {
    if (!M[k] || M[k].error) continue;
    const m = M[k];
    lines.push(
      `${k}. ${m.baseline.tool}: ${what} and ${enc}, the signed-in side with the session cookie of an account that did nothing else. ` +
        `Baseline: ${cpuText(m.baseline.cpu)}. Subject: ${cpuText(m.subject.cpu)}. p99 latency ${ms(m.baseline.latency?.p99 / 1000)} / ${ms(m.subject.latency?.p99 / 1000)}. ${where}.`,
    );
  }
  if (M['5'] && !M['5'].error) {
    const m = M['5'];
    lines.push(
      `5. oha ${cfg.ohaVersion} at a constant rate (\`-q\`, \`--latency-correction\`: latency counts from each request's scheduled start, so waiting counts), 128 connections, \`-w\` (requests in flight at the end are waited for), ${n1(m.rate)}/s = 2 × the sign-in capacity measured by measure 1, for ${cfg.overloadSeconds} s, each request a random one of the ${cfg.accounts} accounts (\`-Z\`). ` +
        `Admitted = 2xx/3xx answers; refused = 429/503. oha keeps no headers, so a probe posted one more sign-in every 250 ms during the run (${m.probes.sent} probes, statuses ${JSON.stringify(m.probes.statuses)}) and checked \`Retry-After\` on its refusals${m.probes.sample ? ` (e.g. ${m.probes.sample.status}, Retry-After ${m.probes.sample.retryAfter})` : ''}. ` +
        `Peak RSS: the server's VmHWM reset (\`/proc/PID/clear_refs\` 5) before the run and read after, with VmRSS sampled every 200 ms (max ${n1(m.rss.sampledMaxMiB)} MiB). The server's RSS was ${n1(m.rss.startMiB)} MiB after start-up (before any load; the geo-IP databases and the common-password list are in memory), ${n1(m.rss.beforeMiB)} MiB just before this run (VmHWM since start-up ${n1(m.rss.hwmBeforeMiB)} MiB): a peak can also be memory kept from earlier measures. ${cpuText(m.cpu)}. ${where}.`,
    );
    lines.push(
      `   Chart (\`target/bench/chart.svg\`): oha likewise at ${cfg.steps.join(', ')} × capacity, ${cfg.stepSeconds} s per point (${cfg.overloadSeconds} s for the sign-in 2× point, the overload run above): sign-ins with 128 connections; the signed-in page with 64, capacity = measure 4's subject.`,
    );
  }
  if (M['6'] && !M['6'].error) {
    const m = M['6'];
    lines.push(
      `6. ${m.fromPage ? `The built files the signed-in page names (its stylesheet, and the script and wasm its loader fetches once the page has loaded) in \`${path.join(cfg.site ?? 'target/site', 'pkg')}\`` : `Every \`${path.join(cfg.site ?? 'target/site', 'pkg')}/*.wasm\` (then \`*.js\`, \`*.css\`): the page's files could not be matched`}${m.otherWasm?.length ? ` (other .wasm files there, not counted: ${m.otherWasm.join(', ')})` : ''}, compressed with brotli quality 11 by Node's zlib (gzip -9 in results.json); ${m.builtThisRun ? 'the site was built by `make release` (scripts/release.sh) in this run' : 'the site was not rebuilt in this run (BENCH_BUILD=0)'}; ${m.release ? 'release build (no name or DWARF sections in the wasm)' : `**not a release build**: the wasm has ${m.debugSections.join(', ')}`}. The brotli copies the server serves: ${m.wasm.map((f) => (f.servedBrotli ? `${f.file}.br ${bytes(f.servedBrotli)}` : `no ${f.file}.br`)).join(', ')}.`,
    );
  }
  if (M['7'] && !M['7'].error) {
    const m = M['7'];
    const types = (l) =>
      l.list.length <= 12
        ? l.list.map((r) => `\`${r.path}\` ${r.cached ? 'from cache' : `${bytes(r.bytes)}${r.encoding ? ` ${r.encoding}` : ''}`} (${r.cacheControl || 'no Cache-Control'})`).join(', ')
        : Object.entries(l.byType).map(([t, v]) => `${t} ${v.requests} (${bytes(v.bytes)}${v.cached ? `, ${v.cached} cached` : ''})`).join(', ');
    lines.push(
      `7. Playwright (end2end/) with Chromium ${m.chromium} and the end-to-end suite's launch options, 1280×800: signed in through the API, then two visits of \`/settings/security\` in new tabs of one browser context (its HTTP cache), each until the network is idle after hydration; bytes = sum of CDP \`Network.loadingFinished\` encodedDataLength (headers + body as transferred; a revalidation answered 304 counts its headers). Cold: ${types(m.cold)}. Warm: ${types(m.warm)}.`,
    );
  }
  const lh = ['8a', '8b'].map((k) => M[k]).filter((m) => m && !m.error);
  if (lh.length) {
    const m = lh[0];
    lines.push(
      `8. Lighthouse ${m.lighthouseVersion} (npm, pinned) with Debian Chromium (\`--headless=new --no-sandbox\`), default ${m.formFactor} emulation, ${m.throttlingMethod} throttling, categories performance, accessibility, best practices; the signed-in page with the session cookie as \`--extra-headers\`; benchmarkIndex ${lh.map((x) => x.benchmarkIndex).join(' / ')}. ` +
        lh.map((x) => `${x.pathname}: FCP ${ms(x.metrics.fcpMs)}, LCP ${ms(x.metrics.lcpMs)}, TBT ${ms(x.metrics.tbtMs)}` + (Object.values(x.lost).flat().length ? `; cost points: ${Object.entries(x.lost).filter(([, l]) => l.length).map(([c, l]) => `${c}: ${l.join(', ')}`).join('; ')}` : '')).join('. ') +
        '.',
    );
  }
  return lines;
}

export function reportMarkdown(res) {
  const out = [];
  out.push('# Gatehouse performance report (`make bench`)', '');
  out.push(`Machine: ${machineLine(res)}.`, '');
  out.push(
    `Every goal of issue 17 as a ratio of a subject and its baseline measured side by side in this one run, on the same cores. A measure that missed its goal was repeated once before being reported as missed (the Met column says so). A run of measures 1, 2, 3 or 4 in which either side's two halves were more than 10% apart (something else took the cores during one half) was set aside as disturbed and taken again, at most twice per measure (the Met column lists them). Durations: ${res.config.seconds} s per peak-rate measure, ${res.config.stepSeconds} s per chart point, ${res.config.overloadSeconds} s of overload.${res.config.only ? ` Only measures ${res.config.only.join(', ')} ran (BENCH_ONLY).` : ''}`,
    '',
  );
  if (res.machine.busyBefore > 0.1) {
    out.push(`**The machine was busy with other work when the run started** (${Math.round(res.machine.busyBefore * 100)}% of its CPU time over 2 s before any measure): it shared the cores, so these numbers are noisy; the CPU split in the method ("rest") shows how much.`, '');
  }
  out.push(tableMarkdown(res), '');
  if (res.curves?.signIn) out.push('![Throughput and p50/p99 latency against offered load](chart.svg)', '');
  out.push('## Method', '');
  for (const l of methodLines(res)) out.push(l.startsWith('   ') ? l : `- **${l.slice(0, l.indexOf(' '))}** ${l.slice(l.indexOf(' ') + 1)}`);
  out.push('');
  const t = res.where?.transactions;
  const curves = res.curves ?? {};
  if (t?.length || curves.signIn || res.rss?.length) {
    out.push('## Where time goes', '');
    if (t?.length) {
      out.push(
        'Postgres transactions per request: pg_stat_database commits + rollbacks of the bench database over a fixed number of requests (oha, 2 at a time), less what the readings themselves cost (measured with no requests); a statement outside a transaction counts as one, so this is a lower bound of the queries. Backends publish their counts lazily, so the pool\'s idle unnamed connections are closed before each reading (never the session cache\'s named listener).',
        '',
      );
      out.push('| Request | Transactions per request |', '|---|---|');
      for (const x of t) out.push(`| ${x.what} | ${x.perRequest.toFixed(2)} |`);
      out.push('');
    }
    for (const [name, c] of [['Sign-in', curves.signIn], ['Signed-in page', curves.page]]) {
      if (!c) continue;
      out.push(`${name} against offered load (capacity ${n1(c.capacity)}/s):`, '');
      out.push('| Offered | Throughput (admitted) | p50 | p99 | Refused (429/503) | Other answers | Not answered (still queued in oha at the end, or failed) |', '|---|---|---|---|---|---|---|');
      for (const p of c.points) {
        const other = Object.entries(p.statuses).filter(([s]) => !(s >= 200 && s < 400) && s !== '429' && s !== '503').map(([s, k]) => `${k} × ${s}`).join(', ') || '0';
        out.push(`| ${p.step}× = ${n1(p.rate)}/s for ${p.seconds} s | ${n1(p.throughput)}/s | ${ms(p.p50)} | ${ms(p.p99)} | ${n0(p.refused)} | ${other} | ${n0(p.unanswered)} |`);
      }
      out.push('');
    }
  }
  if (res.rss?.length) {
    out.push(`Server memory (VmRSS) after start-up and after each measure: ${res.rss.map((r) => `${r.after} ${n1(r.MiB)} MiB`).join(', ')}.`, '');
  }
  if (res.serverLog?.length) {
    out.push('Server log, warnings and errors during the run (grouped; numbers blanked):', '');
    for (const g of res.serverLog.slice(0, 8)) out.push(`- ${g.count} × \`${g.line.replace(/`/g, "'")}\``);
    out.push('');
  }
  if (res.errors?.length) {
    out.push('## Errors', '');
    for (const e of res.errors) out.push(`- ${e.measure}: ${String(e.error).split('\n').slice(0, 3).join(' ')}`);
    out.push('');
  }
  return out.join('\n');
}

export const BEGIN = '<!-- bench:begin -->';
export const END = '<!-- bench:end -->';

export function readmeBlock(res) {
  return [
    `\`make bench\` on ${res.machine.date.slice(0, 10)} (commit ${res.machine.commit}${res.machine.dirty ? '+' : ''}; ${res.machine.nproc} CPUs; ${res.config.seconds} s per measure, ${res.config.overloadSeconds} s of overload; server, Postgres and the load generators share the cores). Every goal of issue 17 as a ratio measured side by side in one run; method and the chart in \`target/bench/report.md\` and \`chart.svg\` (regenerated by \`make bench\`, which rewrites this block).`,
    '',
    tableMarkdown(res),
  ].join('\n');
}

export function updateReadme(file, block) {
  const text = fs.readFileSync(file, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) {
    console.error(`README.md has no ${BEGIN} … ${END} block: not updated`);
    return;
  }
  fs.writeFileSync(file, text.slice(0, a + BEGIN.length) + '\n' + block + '\n' + text.slice(b));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] ?? 'target/bench/results.json';
  const res = JSON.parse(fs.readFileSync(file, 'utf8'));
  const dir = path.dirname(file);
  const { chartSvg } = await import('./chart.mjs');
  if (res.curves?.signIn) fs.writeFileSync(path.join(dir, 'chart.svg'), chartSvg(res));
  fs.writeFileSync(path.join(dir, 'report.md'), reportMarkdown(res));
  console.log(tableMarkdown(res));
}
