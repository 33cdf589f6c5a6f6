// SPDX-License-Identifier: Apache-2.0
//
// Shared pieces of the browser interop tests: prerequisites, a test certificate, starting and
// stopping our servers (they print "listening <kind> 127.0.0.1:PORT" lines, then "ready"),
// their final counters, and the Chromium flags that keep the browser off the network.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..', '..');
export const HOST = '127.0.0.1';
const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

export async function loadPlaywright() {
  try {
    return await import('playwright-core');
  } catch (e) {
    throw new Error(
      `playwright-core is not installed: run \`npm ci\` in ${HERE} (${e.code || e.message})`);
  }
}

export function checkExecutable(file, what) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    throw new Error(`${what} not found or not executable: ${file}`);
  }
}

export function makeCert(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert,
  ], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
  return { cert, key };
}

// Starts `bin args...` and resolves once it printed "ready", with the ports of its
// "listening <kind> 127.0.0.1:PORT" lines; every kind in `required` must be among them.
export function startServer(bin, args, stderrFile, required) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderrChunks = [];
    const stderrOut = fs.createWriteStream(stderrFile);
    proc.stderr.on('data', (chunk) => {
      stderrChunks.push(chunk);
      stderrOut.write(chunk);
    });
    const exited = new Promise((res) => {
      proc.on('exit', (code, signal) => {
        stderrOut.end();
        res({ code, signal });
      });
    });
    const server = {
      proc,
      exited,
      ports: {},
      stdout: [],
      stderr: () => Buffer.concat(stderrChunks).toString('utf8'),
    };
    let settled = false;
    const fail = (msg) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(new Error(`${msg}\n--- stdout ---\n${server.stdout.join('\n')}\n` +
                       `--- stderr ---\n${server.stderr()}`));
    };
    const timer = setTimeout(() => fail(`no "ready" within ${STARTUP_TIMEOUT_MS} ms`),
                             STARTUP_TIMEOUT_MS);
    proc.on('error', (e) => fail(`cannot start ${bin}: ${e.message}`));
    proc.on('exit', (code, signal) => fail(`server exited before "ready" (code ${code}, ` +
                                           `signal ${signal})`));
    const rl = readline.createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      server.stdout.push(line);
      const m = /^listening (\w+) 127\.0\.0\.1:(\d+)$/.exec(line.trim());
      if (m) server.ports[m[1]] = Number(m[2]);
      if (line.trim() === 'ready' && !settled) {
        settled = true;
        clearTimeout(timer);
        for (const t of required) {
          if (!server.ports[t]) {
            proc.kill('SIGKILL');
            reject(new Error(`no "listening ${t} ${HOST}:PORT" line before "ready"`));
            return;
          }
        }
        resolve(server);
      }
    });
  });
}

export async function stopServer(server) {
  server.proc.kill('SIGTERM');
  let timer;
  const result = await Promise.race([
    server.exited,
    new Promise((res) => { timer = setTimeout(() => res(null), STOP_TIMEOUT_MS); }),
  ]);
  clearTimeout(timer);
  if (result === null) {
    server.proc.kill('SIGKILL');
    await server.exited;
    return { code: null, signal: 'timeout' };
  }
  return result;
}

// key=value fields of the last `msg="final stats"` line on stderr.
export function finalStats(stderr) {
  const lines = stderr.split('\n').filter((l) => l.includes('msg="final stats"'));
  if (lines.length === 0) return null;
  const stats = {};
  for (const m of lines[lines.length - 1].matchAll(/([A-Za-z0-9_.]+)=("(?:[^"\\]|\\.)*"|\S+)/g))
    stats[m[1]] = m[2];
  return stats;
}

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-extensions', '--disable-default-apps', '--disable-domain-reliability',
  '--no-pings', '--disable-breakpad', '--metrics-recording-only',
  '--disable-features=WebRtcHideLocalIpsWithMdns,OptimizationHints,' +
    'NetworkTimeServiceQuerying,MediaRouter,Translate',
  // Nothing resolves except the TURN host and localhost: Chromium opens TURN-over-TCP/TLS
  // sockets through the resolver even for IP literals, so the TURN host must be excluded.
  `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${HOST}, EXCLUDE localhost`,
  // turns: against the test's self-signed certificate.
  '--ignore-certificate-errors',
];

