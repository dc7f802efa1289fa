// Launches Debian's Chromium through playwright-core, or fails at once with
// a message that says what is missing. Never waits more than 30 s.
import fs from 'node:fs';
import { withTimeout } from './gateway.mjs';

export const CHROMIUM = process.env.STREAMGATE_CHROMIUM || '/usr/bin/chromium';
export const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];
const LAUNCH_TIMEOUT_MS = 30000;
const SETUP = 'run: bash tests/browser/setup.sh';

export async function launchChromium() {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium package (${SETUP})`);
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (err) {
    throw new Error(`playwright-core is not installed in tests/browser (${SETUP}): ${err.message}`);
  }
  try {
    return await withTimeout(
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: LAUNCH_TIMEOUT_MS }),
      LAUNCH_TIMEOUT_MS + 5000, `${CHROMIUM} to start`);
  } catch (err) {
    const detail = String(err.message).split('\n').slice(0, 12).join('\n');
    throw new Error(`the browser at ${CHROMIUM} could not start (limit ${LAUNCH_TIMEOUT_MS / 1000} s):\n${detail}`);
  }
}
