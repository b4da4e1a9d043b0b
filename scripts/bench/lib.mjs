// Helpers of make bench's harness (scripts/bench/run.mjs): child processes, /proc accounting, and
// the two load generators (wrk for closed-loop peak rates, oha for constant offered rates).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const HERE = path.dirname(new URL(import.meta.url).pathname);

/** Runs a command; resolves { code, stdout, stderr } (never rejects on a non-zero exit). */
export function run(cmd, args, { env = process.env, cwd, onSpawn, timeoutMs } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGTERM'), timeoutMs) : null;
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    if (onSpawn) onSpawn(child);
  });
}

/** Like run, but throws with the command's output when it fails. */
export async function runOk(cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const out = (r.stderr || r.stdout).trim();
    const last = out.split('\n').filter((l) => /error/i.test(l)).at(-1) ?? out.split('\n').at(-1) ?? '';
    throw new Error(`${path.basename(cmd)} exited ${r.code}: ${last.trim().slice(0, 300)}\n${path.basename(cmd)} ${args.join(' ')}\n${out.slice(-3000)}`);
  }
  return r;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// /proc: CPU time, memory, affinity
// ---------------------------------------------------------------------------------------------

const TICK = 100; // USER_HZ on Linux

function statOf(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after the name: state(3) ppid(4) … utime(14) stime(15)
    return { ppid: +f[1], cpu: (+f[11] + +f[12]) / TICK };
  } catch {
    return null;
  }
}

/** Seconds of CPU a process used (user + system), or 0 if it is gone. */
export function cpuOf(pid) {
  return statOf(pid)?.cpu ?? 0;
}

/** Seconds of CPU of a process's threads, by thread name (a trailing number blanked: argon2-N, tokio-rt-worker…). */
export function threadCpu(pid) {
  const out = {};
  let tids = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')).replace(/\d+$/, 'N');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] ?? 0) + (+f[11] + +f[12]) / TICK;
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Seconds of CPU of Postgres: the postmaster and every process it started. */
export function postgresCpu(postmasterPid) {
  let total = cpuOf(postmasterPid);
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = statOf(name);
    if (s && s.ppid === postmasterPid) total += s.cpu;
  }
  return total;
}

/** Busy and total seconds of all CPUs together (from /proc/stat). */
export function machineCpu() {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / TICK, total: (busy + idle + iowait) / TICK };
}

/** A line of /proc/PID/status (e.g. VmHWM, VmRSS in kB; Cpus_allowed_list), or null. */
export function statusField(pid, field) {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field + ':'));
    return line ? line.slice(field.length + 1).trim() : null;
  } catch {
    return null;
  }
}

export const kib = (v) => (v ? parseInt(v, 10) : 0);

/**
 * Accounts the CPU time of the server, Postgres and everything else (the load generator, mostly)
 * between start() and stop(), per request when given a request count.
 */
export class CpuMeter {
  constructor(serverPid, postmasterPid) {
    this.serverPid = serverPid;
    this.postmasterPid = postmasterPid;
  }
  start() {
    this.t0 = process.hrtime.bigint();
    this.a = { server: cpuOf(this.serverPid), threads: threadCpu(this.serverPid), pg: postgresCpu(this.postmasterPid), m: machineCpu() };
    return this;
  }
  stop() {
    const wall = Number(process.hrtime.bigint() - this.t0) / 1e9;
    const b = { server: cpuOf(this.serverPid), threads: threadCpu(this.serverPid), pg: postgresCpu(this.postmasterPid), m: machineCpu() };
    const threads = {};
    for (const [name, cpu] of Object.entries(b.threads)) {
      const d = cpu - (this.a.threads[name] ?? 0);
      if (d > 0) threads[name] = d;
    }
    const server = b.server - this.a.server;
    const pg = b.pg - this.a.pg;
    const busy = b.m.busy - this.a.m.busy;
    const total = b.m.total - this.a.m.total;
    return { wall, server, threads, postgres: Math.max(0, pg), other: Math.max(0, busy - server - pg), busy, idle: Math.max(0, total - busy) };
  }
}

// ---------------------------------------------------------------------------------------------
// wrk: peak rates (closed loop)
// ---------------------------------------------------------------------------------------------

/**
 * wrk for `seconds` with the given threads/connections; `signIn` = { bodies, origin } posts
 * sign-ins (scripts/bench/sign-in.lua), else GET with `headers`. Resolves the parsed WRK_JSON
 * summary plus rps (successful = 2xx/3xx answers per second) and the CPU split.
 */
export async function wrk({ bin, url, seconds, threads = 2, connections = 16, headers = {}, signIn, meter }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '10s'];
  for (const [k, v] of Object.entries(headers)) if (v) args.push('-H', `${k}: ${v}`);
  if (signIn) args.push('-s', path.join(HERE, 'sign-in.lua'), url, '--', signIn.bodies, signIn.origin);
  else args.push('-s', path.join(HERE, 'get.lua'), url);
  meter?.start();
  const r = await runOk(bin, args);
  const cpu = meter?.stop();
  const line = r.stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk printed no summary:\n${r.stdout}\n${r.stderr}`);
  const s = JSON.parse(line.slice(9));
  const duration = s.duration_us / 1e6;
  let ok;
  if (signIn) {
    ok = Object.entries(s.statuses).reduce((n, [code, c]) => n + (code >= 200 && code < 400 ? c : 0), 0);
  } else {
    ok = s.requests - s.errors.status;
  }
  const socketErrors = s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout;
  return { ...s, duration, ok, rps: ok / duration, socketErrors, cpu, tool: `wrk ${threads} threads, ${connections} connections, ${seconds} s` };
}

/**
 * Runs a baseline and its subject alternately, A B B A, each for half the measure's time, and
 * joins each side's halves: on a machine whose speed drifts during a run (a shared VM: raw argon2
 * verified 72/s and then 58/s within two minutes of one run), both sides see the same drift, so
 * their ratio does not depend on which went first. `run(side, seconds)` measures one half.
 */
export async function alternating(seconds, run, join) {
  const half = Math.max(1, Math.round(seconds / 2)); // (wrk takes whole seconds)
  const b1 = await run('baseline', half);
  const s1 = await run('subject', half);
  const s2 = await run('subject', half);
  const b2 = await run('baseline', half);
  return { baseline: join(b1, b2), subject: join(s1, s2) };
}

/**
 * Whether an A B B A run was disturbed: a side whose two halves are more than `limit` apart
 * (larger ÷ smaller − 1) ran on another machine than its other half (on this shared VM something
 * else took the cores for a while: argon2id's baseline once gave 123.4/s and then 101.5/s in one
 * run), so the two sides did not see the same conditions and their ratio says little. Each side
 * is `[first half, second half]` (rates); answers why, or null.
 */
export function disturbed(sides, limit = 0.1) {
  for (const [side, halves] of Object.entries(sides)) {
    const [a, b] = halves ?? [];
    if (a > 0 && b > 0 && Math.max(a, b) / Math.min(a, b) - 1 > limit) {
      const f = (v) => v.toLocaleString('en-US', { maximumFractionDigits: 1 });
      return `${side} halves ${f(a)} and ${f(b)}/s, ${Math.round((Math.max(a, b) / Math.min(a, b) - 1) * 100)}% apart`;
    }
  }
  return null;
}

const sumCpu = (a, b) => {
  if (!a || !b) return a ?? b;
  const threads = { ...a.threads };
  for (const [k, v] of Object.entries(b.threads ?? {})) threads[k] = (threads[k] ?? 0) + v;
  const out = { threads };
  for (const k of ['wall', 'server', 'postgres', 'other', 'busy', 'idle']) out[k] = (a[k] ?? 0) + (b[k] ?? 0);
  return out;
};

/** Two wrk halves as one measure: counts and CPU added, each latency percentile the worse half's. */
export function joinWrk(a, b) {
  const duration = a.duration + b.duration;
  const ok = a.ok + b.ok;
  const statuses = { ...a.statuses };
  for (const [k, v] of Object.entries(b.statuses ?? {})) statuses[k] = (statuses[k] ?? 0) + v;
  const latency_us = {};
  for (const k of Object.keys(a.latency_us ?? {})) latency_us[k] = Math.max(a.latency_us[k], b.latency_us?.[k] ?? 0);
  return {
    ...a,
    requests: a.requests + b.requests,
    ok,
    duration,
    rps: ok / duration,
    halves: [a.rps, b.rps],
    statuses,
    latency_us,
    socketErrors: a.socketErrors + b.socketErrors,
    cpu: sumCpu(a.cpu, b.cpu),
    tool: `${a.tool}, twice: baseline and subject alternating, A B B A (latency: the worse half)`,
  };
}

// ---------------------------------------------------------------------------------------------
// oha: constant offered rate (open loop, latency measured from each request's scheduled start)
// ---------------------------------------------------------------------------------------------

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * oha at `rate` requests/s for `seconds`, waiting for those in flight at the end (-w), latency
 * corrected for coordinated omission. Every answered request is read from oha's CSV: admitted
 * (2xx/3xx) ones give the throughput and latency percentiles, refusals (429/503) and others are
 * counted. `signIn` = { bodies, origin } posts a random line of `bodies` each time (oha -Z).
 */
export async function oha({ bin, url, rate, seconds, connections = 64, headers = {}, signIn, csvPath, onSpawn }) {
  const args = ['-z', `${seconds}s`, '-q', String(rate), '--latency-correction', '-w', '-c', String(connections), '--no-tui', '--output-format', 'csv', '-o', csvPath];
  for (const [k, v] of Object.entries(headers)) if (v) args.push('-H', `${k}: ${v}`);
  if (signIn) args.push('-m', 'POST', '-T', 'application/x-www-form-urlencoded', '-H', `Origin: ${signIn.origin}`, '-Z', signIn.bodies);
  args.push(url);
  await runOk(bin, args, { onSpawn });
  const rows = fs.readFileSync(csvPath, 'utf8').trim().split('\n').slice(1).filter(Boolean).map((l) => l.split(','));
  const admitted = [];
  const refused = [];
  const statuses = {};
  for (const r of rows) {
    const status = +r[6];
    const ms = +r[4] * 1000;
    statuses[status] = (statuses[status] || 0) + 1;
    if (status >= 200 && status < 400) admitted.push(ms);
    else if (status === 429 || status === 503) refused.push(ms);
  }
  admitted.sort((a, b) => a - b);
  refused.sort((a, b) => a - b);
  const offered = Math.floor(rate * seconds);
  const errors5xx = Object.entries(statuses).reduce((n, [c, k]) => n + (c >= 500 && c != 503 ? k : 0), 0);
  return {
    rate,
    seconds,
    connections,
    offered,
    answered: rows.length,
    unanswered: Math.max(0, offered - rows.length),
    statuses,
    admitted: admitted.length,
    throughput: admitted.length / seconds,
    p50: percentile(admitted, 50),
    p99: percentile(admitted, 99),
    max: admitted.at(-1) ?? NaN,
    refused: refused.length,
    refusedP99: percentile(refused, 99),
    errors5xx,
  };
}
