// SPDX-License-Identifier: Apache-2.0
//
// Browser interop: headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// connects two RTCPeerConnections in one page with iceTransportPolicy 'relay' through the
// traverse binary, once per TURN transport:
//
//   turn:127.0.0.1:UDP?transport=udp    -> selected pair relay/relay, local relayProtocol udp
//   turn:127.0.0.1:TCP?transport=tcp    -> selected pair relay/relay, local relayProtocol tcp
//   turns:127.0.0.1:TLS?transport=tcp   -> selected pair relay/relay, local relayProtocol tls
//
// Credentials are TURN REST API ones minted by `traverse cred --json`. A data channel carries
// one message each way. Then the server is stopped with SIGTERM; it must exit 0 and its
// "final stats" line must show the allocations and the relayed packets.
//
// Run:   TRAVERSE_BIN=build/server/app/traverse node tests/interop/webrtc/relay.test.mjs
// Needs: `npm ci` in this directory (playwright-core), Debian's chromium, openssl.
// Env:   TRAVERSE_BIN (default build/server/app/traverse), CHROMIUM_BIN (default
//        /usr/bin/chromium), WEBRTC_KEEP_TMP=1 keeps the temp dir (config, cert, server log),
//        WEBRTC_LOG_LEVEL=debug|trace raises the server's log level (default info).
//
// All traffic stays on 127.0.0.1: the server listens there, relays from there, only
// 127.0.0.1/32 is an allowed peer, and Chromium's host resolver is mapped to NOTFOUND for
// everything but the TURN host so it never looks anything up.

import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import {
  CHROMIUM_ARGS, HERE, HOST, REPO_ROOT, checkExecutable, finalStats, loadPlaywright, makeCert,
  startServer, stopServer,
} from './lib.mjs';

const TRAVERSE_BIN =
  process.env.TRAVERSE_BIN || path.join(REPO_ROOT, 'build', 'server', 'app', 'traverse');
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const VARIANT_TIMEOUT_MS = 20_000;
// The server's log level; 'debug' shows each TURN request Chromium sends.
const LOG_LEVEL = /^(trace|debug|info)$/.test(process.env.WEBRTC_LOG_LEVEL || '')
  ? process.env.WEBRTC_LOG_LEVEL : 'info';

const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

// ------------------------------------------------------------------------------------------
// Prerequisites: fail with a clear message rather than a stack trace.

// ------------------------------------------------------------------------------------------
// Server setup

function writeConfig(dir, { cert, key }, secret) {
  const low = 40000 + randomInt(0, 20) * 1000; // a 1000-port window inside 40000-59999
  const yaml = [
    'server: { workers: 2 }',
    'listen:',
    `  - { transport: udp, address: ${HOST}, port: 0 }`,
    `  - { transport: tcp, address: ${HOST}, port: 0 }`,
    `  - { transport: tls, address: ${HOST}, port: 0 }`,
    `tls: { certificate: "${cert}", private_key: "${key}" }`,
    'auth:',
    '  realm: traverse.test',
    `  secrets: [ "${secret}" ]`,
    'relay:',
    `  addresses: [${HOST}]`,
    `  port_range: ${low}-${low + 999}`,
    'peers:',
    `  allow: [${HOST}/32]`,
    `logging: { level: ${LOG_LEVEL} }`,
    '',
  ].join('\n');
  const file = path.join(dir, 'traverse.yaml');
  fs.writeFileSync(file, yaml);
  return file;
}

function mintCredential(secret) {
  const out = execFileSync(TRAVERSE_BIN, [
    'cred', '--user', 'webrtc-interop', '--secret', secret, '--ttl', '1h', '--json',
  ], { encoding: 'utf8', timeout: 10_000 });
  const json = JSON.parse(out);
  const turn = json.iceServers.find((s) => s.username && s.credential);
  if (!turn) throw new Error(`traverse cred printed no username/credential: ${out}`);
  if (!/^\d+:webrtc-interop$/.test(turn.username))
    throw new Error(`unexpected REST username ${turn.username}`);
  return { username: turn.username, credential: turn.credential, ttl: json.ttl };
}

// ------------------------------------------------------------------------------------------
// The page: an empty document on a loopback origin. The test code runs through page.evaluate.

function startHttp() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>traverse webrtc relay</title>' +
              '<p>traverse webrtc relay interop</p>');
    });
    srv.listen(0, HOST, () => resolve(srv));
  });
}

// Runs inside Chromium. Connects pc1 -> pc2 through the given TURN server with relay-only ICE,
// exchanges one data-channel message each way, and returns what getStats says about the
// selected candidate pair on both sides. Never rejects: failures come back as { ok: false }.
async function inPageVariant({ iceServer, timeoutMs, label }) {
  const events = [];
  const note = (s) => events.push(`${(performance.now() / 1000).toFixed(2)}s ${s}`);
  const config = { iceServers: [iceServer], iceTransportPolicy: 'relay' };
  const pc1 = new RTCPeerConnection(config);
  const pc2 = new RTCPeerConnection(config);
  const errors = [];
  const candidates = { pc1: [], pc2: [] };
  const wire = (from, to, name) => {
    from.addEventListener('icecandidate', (e) => {
      if (e.candidate) {
        candidates[name].push(e.candidate.candidate);
        to.addIceCandidate(e.candidate).catch((err) => errors.push(`${name} addIceCandidate: ${err}`));
      } else {
        note(`${name} gathering complete`);
      }
    });
    from.addEventListener('icecandidateerror', (e) => {
      errors.push(`${name} icecandidateerror ${e.errorCode} ${e.errorText} url=${e.url}`);
    });
    from.addEventListener('iceconnectionstatechange', () =>
      note(`${name} ice ${from.iceConnectionState}`));
    from.addEventListener('connectionstatechange', () =>
      note(`${name} conn ${from.connectionState}`));
  };
  wire(pc1, pc2, 'pc1');
  wire(pc2, pc1, 'pc2');

  const received = { pc1: null, pc2: null };
  let timer;
  const work = (async () => {
    const dc1 = pc1.createDataChannel(`relay-${label}`, { ordered: true });
    const dc2Promise = new Promise((res) => {
      pc2.addEventListener('datachannel', (e) => res(e.channel));
    });
    const offer = await pc1.createOffer();
    await pc1.setLocalDescription(offer);
    await pc2.setRemoteDescription(pc1.localDescription);
    const answer = await pc2.createAnswer();
    await pc2.setLocalDescription(answer);
    await pc1.setRemoteDescription(pc2.localDescription);

    await new Promise((res, rej) => {
      if (dc1.readyState === 'open') return res();
      dc1.addEventListener('open', () => res(), { once: true });
      dc1.addEventListener('error', (e) => rej(new Error(`dc1 error ${e.error}`)), { once: true });
    });
    note('dc1 open');
    const dc2 = await dc2Promise;
    if (dc2.readyState !== 'open')
      await new Promise((res) => dc2.addEventListener('open', () => res(), { once: true }));
    note('dc2 open');

    const ping = `ping-${label}-${Math.random().toString(36).slice(2)}`;
    const pong = `pong-${label}-${Math.random().toString(36).slice(2)}`;
    const gotAt2 = new Promise((res) => dc2.addEventListener('message', (e) => res(e.data), { once: true }));
    dc1.send(ping);
    received.pc2 = await gotAt2;
    note('pc2 received');
    const gotAt1 = new Promise((res) => dc1.addEventListener('message', (e) => res(e.data), { once: true }));
    dc2.send(pong);
    received.pc1 = await gotAt1;
    note('pc1 received');
    if (received.pc2 !== ping) throw new Error(`pc2 got ${JSON.stringify(received.pc2)}, want ${ping}`);
    if (received.pc1 !== pong) throw new Error(`pc1 got ${JSON.stringify(received.pc1)}, want ${pong}`);

    const selected = async (pc) => {
      // The selected pair may be reported a moment after the channel opens; poll briefly.
      for (let i = 0; i < 50; i++) {
        const report = await pc.getStats();
        const byId = new Map();
        report.forEach((s) => byId.set(s.id, s));
        let pair = null;
        report.forEach((s) => {
          if (s.type === 'transport' && s.selectedCandidatePairId)
            pair = byId.get(s.selectedCandidatePairId) || pair;
        });
        if (!pair) {
          report.forEach((s) => {
            if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) pair = s;
          });
        }
        if (pair) {
          const local = byId.get(pair.localCandidateId) || {};
          const remote = byId.get(pair.remoteCandidateId) || {};
          return {
            pairState: pair.state,
            nominated: pair.nominated,
            bytesSent: pair.bytesSent,
            bytesReceived: pair.bytesReceived,
            local: {
              candidateType: local.candidateType, protocol: local.protocol,
              relayProtocol: local.relayProtocol, address: local.address, port: local.port,
              url: local.url,
            },
            remote: {
              candidateType: remote.candidateType, protocol: remote.protocol,
              address: remote.address, port: remote.port,
            },
          };
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return null;
    };
    return { pc1: await selected(pc1), pc2: await selected(pc2) };
  })();
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  let result;
  try {
    const stats = await Promise.race([work, timeout]);
    result = { ok: true, stats };
  } catch (e) {
    result = { ok: false, error: String(e && e.message || e) };
  } finally {
    clearTimeout(timer);
    work.catch(() => {});
  }
  result.states = {
    pc1: `${pc1.iceGatheringState}/${pc1.iceConnectionState}/${pc1.connectionState}`,
    pc2: `${pc2.iceGatheringState}/${pc2.iceConnectionState}/${pc2.connectionState}`,
  };
  result.errors = errors;
  result.candidates = candidates;
  result.events = events;
  result.received = received;
  pc1.close();
  pc2.close();
  return result;
}

// ------------------------------------------------------------------------------------------
// Chromium

// ------------------------------------------------------------------------------------------

function checkVariant(name, want, r) {
  const problems = [];
  if (!r.ok) {
    problems.push(r.error);
    return problems;
  }
  for (const side of ['pc1', 'pc2']) {
    const s = r.stats[side];
    if (!s) {
      problems.push(`${side}: getStats reports no selected candidate pair`);
      continue;
    }
    if (s.local.candidateType !== 'relay')
      problems.push(`${side}: local candidateType ${s.local.candidateType}, want relay`);
    if (s.remote.candidateType !== 'relay')
      problems.push(`${side}: remote candidateType ${s.remote.candidateType}, want relay`);
    if (s.local.relayProtocol !== want)
      problems.push(`${side}: local relayProtocol ${s.local.relayProtocol}, want ${want}`);
    if (s.local.address !== HOST || s.remote.address !== HOST)
      problems.push(`${side}: relay addresses ${s.local.address} / ${s.remote.address}, ` +
                    `want ${HOST}`);
  }
  return problems;
}

function describe(s) {
  if (!s) return 'none';
  return `${s.local.candidateType}/${s.remote.candidateType} relayProtocol=${s.local.relayProtocol} ` +
         `${s.local.address}:${s.local.port} <-> ${s.remote.address}:${s.remote.port}`;
}

async function main() {
  const results = []; // { name, ok, detail }
  const record = (name, ok, detail) => {
    results.push({ name, ok, detail });
    console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  };

  checkExecutable(TRAVERSE_BIN, 'traverse binary (TRAVERSE_BIN)');
  checkExecutable(CHROMIUM_BIN, 'Chromium (apt-get install chromium; or set CHROMIUM_BIN)');
  const { chromium } = await loadPlaywright();

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'traverse-webrtc-'));
  const secret = randomBytes(24).toString('hex');
  const configFile = writeConfig(tmp, makeCert(tmp), secret);
  const stderrFile = path.join(tmp, 'server.stderr.log');

  let server = null;
  let browser = null;
  let httpServer = null;
  let failedHard = false;
  try {
    server = await startServer(TRAVERSE_BIN, ['--config', configFile], stderrFile,
                                 ['udp', 'tcp', 'tls']);
    log(`traverse ready: udp ${server.ports.udp}, tcp ${server.ports.tcp}, ` +
        `tls ${server.ports.tls} (pid ${server.proc.pid})`);
    const cred = mintCredential(secret);
    log(`REST credential for ${cred.username} (ttl ${cred.ttl}s)`);

    httpServer = await startHttp();
    const pageUrl = `http://${HOST}:${httpServer.address().port}/`;

    browser = await chromium.launch({
      executablePath: CHROMIUM_BIN,
      headless: true,
      args: [...CHROMIUM_ARGS],
      timeout: 30_000,
    });
    log(`chromium ${browser.version()}`);
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') log(`page console: ${m.text()}`); });
    await page.goto(pageUrl, { timeout: 10_000 });

    const variants = [
      { name: 'turn-udp', want: 'udp', url: `turn:${HOST}:${server.ports.udp}?transport=udp` },
      { name: 'turn-tcp', want: 'tcp', url: `turn:${HOST}:${server.ports.tcp}?transport=tcp` },
      { name: 'turns-tls', want: 'tls', url: `turns:${HOST}:${server.ports.tls}?transport=tcp` },
    ];
    for (const v of variants) {
      const started = Date.now();
      const iceServer = { urls: v.url, username: cred.username, credential: cred.credential };
      let r;
      try {
        r = await page.evaluate(inPageVariant,
                                { iceServer, timeoutMs: VARIANT_TIMEOUT_MS, label: v.name });
      } catch (e) {
        r = { ok: false, error: `page.evaluate: ${e.message}` };
      }
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      const problems = checkVariant(v.name, v.want, r);
      if (problems.length === 0) {
        record(`${v.name} (${v.url})`, true, `${describe(r.stats.pc1)} in ${secs}s`);
      } else {
        record(`${v.name} (${v.url})`, false, `${problems.join('; ')} after ${secs}s`);
        console.log(`  states: ${JSON.stringify(r.states)}`);
        console.log(`  selected: pc1 ${describe(r.stats?.pc1)}; pc2 ${describe(r.stats?.pc2)}`);
        for (const e of r.errors || []) console.log(`  ${e}`);
        for (const side of ['pc1', 'pc2'])
          for (const c of (r.candidates?.[side] || [])) console.log(`  ${side} candidate ${c}`);
        for (const e of r.events || []) console.log(`  event ${e}`);
      }
    }
  } catch (e) {
    failedHard = true;
    record('setup', false, e.message);
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (httpServer) httpServer.close();
  }

  if (server) {
    const { code, signal } = await stopServer(server);
    const stderr = server.stderr();
    record('server exits 0 on SIGTERM', code === 0,
           code === 0 ? '' : `exit code ${code}, signal ${signal}`);
    const stats = finalStats(stderr);
    if (!stats) {
      record('final stats', false, 'no msg="final stats" line on stderr');
    } else {
      const n = (k) => (k in stats ? Number(stats[k]) : NaN);
      const created = n('allocations_created');
      const relayed = n('relayed_to_peer_packets');
      const ok = created >= 2 && relayed > 0;
      record('final stats', ok, `allocations_created=${created} relayed_to_peer_packets=${relayed}` +
             (ok ? '' : ' (want >= 2 and > 0)'));
    }
    const failed = results.some((r) => !r.ok);
    if (failed || failedHard) {
      const warnings = stderr.split('\n').filter((l) => /level=(warn|error)/.test(l));
      if (warnings.length) {
        console.log('--- server warnings/errors (last 40) ---');
        for (const l of warnings.slice(-40)) console.log(l);
      }
      console.log(`server stderr: ${stderrFile}`);
    }
  }

  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  if (failed === 0 && !process.env.WEBRTC_KEEP_TMP) {
    fs.rmSync(tmp, { recursive: true, force: true });
  } else {
    console.log(`kept ${tmp}`);
  }
  log('done');
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e && e.stack || e);
    console.log('0 passed, 1 failed');
    process.exit(1);
  });
