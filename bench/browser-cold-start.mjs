#!/usr/bin/env node
// Benchmark: browser-mode cold start, from spawning `vireo serve` to the VM list being
// interactive in Debian's Chromium, median of N runs. Beside it, the peer figure measured in the
// same runs: a static blank page from the same server in the same Chromium (what any page costs
// before Vireo's own work: bundle parse, WebSocket, vm.list, React render).
//
//   node scripts/build.mjs && node bench/browser-cold-start.mjs [--runs N] [--vms N]
//
// Each run starts a fresh server process and a fresh browser context (empty cache, no cookie).
// Chromium itself is launched once; its launch time is printed separately.
import { rmSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { fmt, launchChromium, makeLibrary, median, requireBuild, serve } from './browser-lib.mjs';

requireBuild();
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '7' }, vms: { type: 'string', default: '10' } },
});
const runs = Math.max(1, Number(values.runs) || 7);
const vmCount = Math.max(1, Number(values.vms) || 10);

const home = makeLibrary(vmCount);
const launchStart = performance.now();
const browser = await launchChromium();
const launchMs = performance.now() - launchStart;
const samples = { url: [], list: [], total: [], blank: [] };
try {
  // One warm-up run (disk cache of node and the bundle), then the measured runs.
  for (let r = 0; r <= runs; r++) {
    // Fresh contexts (empty cache, no cookie) made before the clock starts.
    const context = await browser.newContext();
    const page = await context.newPage();
    const peer = await browser.newContext();
    const peerPage = await peer.newPage();
    const server = await serve(home);
    try {
      const goStart = performance.now();
      await page.goto(server.url);
      // Interactive: the list is mounted with its rows and the first one can take a click.
      await page.locator(`[data-testid="vm-list"][data-count="${vmCount}"] li`).first().waitFor();
      await page.locator('[data-testid="vm-list"] li').first().click({ trial: true });
      const listMs = performance.now() - goStart;
      const totalMs = performance.now() - server.started;

      // The peer: the same server and Chromium, a page with nothing in it.
      const origin = new URL(server.url);
      const blankStart = performance.now();
      await peerPage.goto(`${origin.origin}/blank.html${origin.search}`, { waitUntil: 'load' });
      const blankMs = performance.now() - blankStart;
      if (r > 0) {
        samples.url.push(server.urlMs);
        samples.list.push(listMs);
        samples.total.push(totalMs);
        samples.blank.push(blankMs);
      }
    } finally {
      await context.close();
      await peer.close();
      await server.stop();
    }
  }
} finally {
  await browser.close();
  rmSync(home, { recursive: true, force: true });
}

console.log(`browser cold start, ${vmCount} VMs, median of ${runs} runs (after 1 warm-up):`);
console.log(`  vireo serve spawn -> URL printed        ${fmt(median(samples.url))}`);
console.log(`  page.goto -> VM list interactive        ${fmt(median(samples.list))}`);
console.log(`  server spawn -> VM list interactive     ${fmt(median(samples.total))}`);
console.log(`  peer: static blank page, same server    ${fmt(median(samples.blank))}`);
console.log(`  (Chromium launch, once: ${fmt(launchMs)})`);
console.log(
  `  (host load average at the end: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, ${os.cpus().length} cores)`,
);
