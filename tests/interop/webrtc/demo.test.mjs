// SPDX-License-Identifier: Apache-2.0
//
// The demo call, end to end: traverse-signal serves the demo page at / and relays SDP and
// candidates; traverse relays the media. Two Chromium tabs open the page with ?auto=queue
// (random matching) and ?relay=1 (TURN only), with a synthetic camera and microphone. Both must
// reach "in a call", exchange a data-channel greeting, decode remote video, and use a
// relay/relay candidate pair; closing one tab must tell the other ("peer left").
// Then a named room: two tabs with ?auto=ROOM call each other the same way.
//
// Run:   TRAVERSE_BIN=build/server/app/traverse TRAVERSE_SIGNAL_BIN=... node demo.test.mjs
// Needs: `npm ci` here (playwright-core), Debian's chromium. Loopback only.

import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  CHROMIUM_ARGS, HOST, REPO_ROOT, checkExecutable, finalStats, loadPlaywright, startServer,
  stopServer,
} from './lib.mjs';

const APP = path.join(REPO_ROOT, 'build', 'server', 'app');
const TRAVERSE_BIN = process.env.TRAVERSE_BIN || path.join(APP, 'traverse');
const SIGNAL_BIN =
  process.env.TRAVERSE_SIGNAL_BIN || path.join(path.dirname(TRAVERSE_BIN), 'traverse-signal');
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CALL_TIMEOUT_MS = 25_000;

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`);
}

function writeTurnConfig(dir, secretFile) {
  const low = 40000 + randomInt(0, 20) * 1000;
  const yaml = [
    'server: { workers: 2 }',
    'listen:',
    `  - { transport: udp, address: ${HOST}, port: 0 }`,
    `  - { transport: tcp, address: ${HOST}, port: 0 }`,
    'auth:',
    '  realm: traverse.test',
    `  secret_file: "${secretFile}"`,
    'relay:',
    `  addresses: [${HOST}]`,
    `  port_range: ${low}-${low + 999}`,
    'peers:',
    `  allow: [${HOST}/32]`,
    '',
  ].join('\n');
  const file = path.join(dir, 'traverse.yaml');
  fs.writeFileSync(file, yaml);
  return file;
}

// Waits until the page's demo reaches a state starting with `prefix`.
async function waitState(page, prefix) {
  await page.waitForFunction((p) => (window.demoState || '').startsWith(p), prefix,
                             { timeout: CALL_TIMEOUT_MS });
}

// What the page's RTCPeerConnection shows: selected pair types and decoded video frames.
async function callFacts(page) {
  return page.evaluate(async () => {
    const stats = await window.demo.pc.getStats();
    let pairId = null;
    let frames = 0;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames = s.framesDecoded || 0;
    });
    const pair = pairId ? stats.get(pairId) : null;
    const local = pair ? stats.get(pair.localCandidateId) : null;
    const remote = pair ? stats.get(pair.remoteCandidateId) : null;
    return { local: local && local.candidateType, remote: remote && remote.candidateType,
             protocol: local && local.relayProtocol, frames, messages: window.demo.messages };
  });
}

async function call(context, url, label) {
  const a = await context.newPage();
  const b = await context.newPage();
  await a.goto(url);
  await b.goto(url);
  await Promise.all([waitState(a, 'in a call'), waitState(b, 'in a call')]);
  // Let media flow long enough for frames to be decoded and the greeting to arrive.
  await Promise.all([
    a.waitForFunction(() => window.demo.messages.length > 0, null, { timeout: CALL_TIMEOUT_MS }),
    b.waitForFunction(() => window.demo.messages.length > 0, null, { timeout: CALL_TIMEOUT_MS }),
  ]);
  await a.waitForTimeout(1500);
  for (const [who, page] of [['A', a], ['B', b]]) {
    const f = await callFacts(page);
    check(`${label}: ${who} relay/relay`, f.local === 'relay' && f.remote === 'relay',
          `${f.local}/${f.remote} over ${f.protocol}`);
    check(`${label}: ${who} got the greeting`, f.messages.some((m) => m.startsWith('hello from')),
          JSON.stringify(f.messages));
    check(`${label}: ${who} decoded remote video`, f.frames > 0, `${f.frames} frames`);
  }
  await a.close();
  await waitState(b, 'peer left');
  check(`${label}: closing one tab tells the other`, true);
  await b.close();
}

async function main() {
  checkExecutable(TRAVERSE_BIN, 'traverse (TRAVERSE_BIN)');
  checkExecutable(SIGNAL_BIN, 'traverse-signal (TRAVERSE_SIGNAL_BIN)');
  checkExecutable(CHROMIUM_BIN, 'Chromium (apt-get install chromium)');
  const { chromium } = await loadPlaywright();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'traverse-demo-'));
  const secretFile = path.join(tmp, 'rest-secret');
  fs.writeFileSync(secretFile, randomBytes(16).toString('hex') + '\n');
  let turn = null;
  let signal = null;
  let browser = null;
  try {
    turn = await startServer(TRAVERSE_BIN, ['--config', writeTurnConfig(tmp, secretFile)],
                             path.join(tmp, 'traverse.err'), ['udp', 'tcp']);
    signal = await startServer(SIGNAL_BIN, [
      '--listen', `${HOST}:0`, '--turn-secret-file', secretFile,
      '--turn-port', String(turn.ports.udp), '--turns-port', '0',
    ], path.join(tmp, 'signal.err'), ['ws']);
    browser = await chromium.launch({
      executablePath: CHROMIUM_BIN,
      headless: true,
      args: [...CHROMIUM_ARGS, '--use-fake-device-for-media-stream',
             '--use-fake-ui-for-media-stream'],
    });
    const context = await browser.newContext();
    const base = `http://${HOST}:${signal.ports.ws}/`;
    await call(context, `${base}?auto=queue&relay=1`, 'random match');
    await call(context, `${base}?auto=standup&relay=1`, 'named room');
  } catch (e) {
    check('demo call', false, e.message);
  } finally {
    if (browser) await browser.close();
    for (const [name, server] of [['traverse-signal', signal], ['traverse', turn]]) {
      if (!server) continue;
      const { code } = await stopServer(server);
      check(`${name} exits 0 on SIGTERM`, code === 0, `code ${code}`);
    }
    if (turn) {
      const stats = finalStats(turn.stderr()) || {};
      check('traverse relayed the calls', Number(stats.relayed_to_peer_packets) > 100,
            `relayed_to_peer_packets=${stats.relayed_to_peer_packets}`);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
