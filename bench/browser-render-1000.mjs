#!/usr/bin/env node
// Benchmark: a library of 1,000 VMs in the browser UI. Measures, median of N fresh page loads:
//   - navigation to the list showing all 1,000 VMs (vm.list over the WebSocket + React render),
//     beside the same for a 10-VM library (the peer: what the page costs with a small library);
//   - End key on the focused list to the last VM selected and its details shown (keyboard
//     responsiveness with 1,000 rows; the list is virtualised, see VmList.tsx);
//   - how many list rows are in the DOM (virtualisation: a screenful, not 1,000).
//
//   node scripts/build.mjs && node bench/browser-render-1000.mjs [--runs N] [--vms N]
import { rmSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { fmt, launchChromium, makeLibrary, median, requireBuild, serve } from './browser-lib.mjs';

requireBuild();
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '7' }, vms: { type: 'string', default: '1000' } },
});
const runs = Math.max(1, Number(values.runs) || 7);
const vmCount = Math.max(2, Number(values.vms) || 1000);
const PEER_VMS = 10;

const browser = await launchChromium();

/** Median time from navigation to a list of `count` VMs, plus End-key and DOM figures. */
async function measure(count) {
  const home = makeLibrary(count);
  const server = await serve(home);
  const load = [];
  const end = [];
  let rowsInDom = 0;
  try {
    for (let r = 0; r <= runs; r++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const start = performance.now();
      await page.goto(server.url);
      await page.locator(`[data-testid="vm-list"][data-count="${count}"] li`).first().waitFor();
      const loadMs = performance.now() - start;
      rowsInDom = await page.locator('[data-testid="vm-list"] li').count();

      const last = `vm-${String(count - 1).padStart(4, '0')}`;
      await page.getByTestId('vm-list').focus();
      const endStart = performance.now();
      await page.keyboard.press('End');
      await page.locator(`[data-testid="vm-item-${last}"][aria-selected="true"]`).waitFor();
      await page.getByTestId('details').getByRole('heading', { name: last }).waitFor();
      const endMs = performance.now() - endStart;
      await context.close();
      if (r > 0) {
        load.push(loadMs);
        end.push(endMs);
      }
    }
  } finally {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
  return { load: median(load), end: median(end), rowsInDom };
}

try {
  const big = await measure(vmCount);
  const peer = await measure(PEER_VMS);
  console.log(`browser list rendering, median of ${runs} page loads (after 1 warm-up):`);
  console.log(`  ${vmCount} VMs: page.goto -> list rendered     ${fmt(big.load)}`);
  console.log(`  peer, ${PEER_VMS} VMs: page.goto -> list rendered  ${fmt(peer.load)}`);
  console.log(`  ${vmCount} VMs: End key -> last VM selected+shown ${fmt(big.end)}`);
  console.log(
    `  (host load average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, ${os.cpus().length} cores)`,
  );
  console.log(`  list rows in the DOM with ${vmCount} VMs: ${big.rowsInDom} (virtualised)`);
} finally {
  await browser.close();
}
