// The traveller's web app in a real browser (Debian's Chromium, headless, phone-sized) against
// the real supergraph: register and verify, search with a typo, book two passengers, pay at the
// provider's checkout page, CONFIRMED, cancel, refunded; Hindi; and a Tatkal rush where 50
// scripted travellers (@tatkal/client) and the browser share one waiting room. axe-core checks
// every screen; the screenshots in docs/screenshots/ (README) are written here.
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TatkalClient } from '@tatkal/client';
import { addDays, todayInIndia } from '../../../packages/common/src/dates.ts';
import { createTestRun } from '../../../packages/testkit/src/trainRun.ts';
import { istInstant } from '../../../subgraphs/booking/src/domain/tatkal/windows.ts';
import { startSupergraph, type RunningSupergraph } from '../../../test/support/supergraph.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { buildApp, isStale } from '../build.ts';
import { serveApp, type ServedApp } from '../serve.ts';
import { launchBrowser, phonePage, screenshot, seriousViolations } from './browser.ts';

let sg: RunningSupergraph;
let web: ServedApp;
let browser: Browser;
let page: Page;
/** How far booking's clock is ahead of the system clock (the rush moves it to an opening). */
let offsetMs = 0;
const phone = `+9197${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
const email = `web-${randomUUID()}@example.com`;

beforeAll(async () => {
  // The browser first: no Chromium is a clear failure before anything else starts.
  browser = await launchBrowser();
  // npm test built it (scripts/bootstrap.mjs); a bare vitest run may find it stale.
  if (isStale()) await buildApp();
  web = await serveApp({ port: 0, gatewayUrl: () => sg.gatewayUrl });
  sg = await startSupergraph(
    'e2e_web',
    // The app's origin is the one the gateway accepts (CORS); every browser and script is 127.0.0.1.
    { CORS_ORIGINS: web.url, TATKAL_PNRS_PER_ADDRESS: '0', SWEEP_INTERVAL_MS: '200' },
    { bookingClock: () => new Date(Date.now() + offsetMs) },
  );
  page = await phonePage(browser);
}, 240_000);
afterAll(async () => {
  await browser?.close();
  await web?.close();
  await sg?.stop();
});

/** The screen has no serious or critical accessibility violation; then its screenshot. */
async function check(name: string) {
  expect(await seriousViolations(page), `axe on ${name}`).toEqual([]);
  await screenshot(page, name);
}

const go = (hash: string) => page.goto(`${web.url}/${hash}`);

/** Waits for what the screen should show; a time-out says what the screen showed instead. */
async function see(selector: string, timeout = 30_000) {
  try {
    await page.locator(selector).first().waitFor({ timeout });
  } catch (err) {
    const shown = await page
      .locator('main')
      .textContent()
      .catch(() => '(no main)');
    throw new Error(`${selector} not shown within ${timeout} ms; the screen showed:\n${shown}`, { cause: err });
  }
}

async function pickStation(label: string, typed: string, code: string) {
  const input = page.getByRole('combobox', { name: label });
  await input.fill(typed);
  const option = page.getByRole('option').filter({ hasText: code }).first();
  await option.waitFor();
  await input.press('Enter');
  expect(await input.inputValue()).toContain(`(${code})`);
}

describe('the web app in a browser', () => {
  it('register, verify, search with a typo, book two, pay at checkout, CONFIRMED, cancel, refunded', async () => {
    await go('#/register');
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.getByLabel('Full name').fill('Asha Rao');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('a long enough passphrase');
    await page.getByLabel('Mobile number').fill(phone);
    await check('register');
    await page.getByRole('button', { name: 'Create account' }).click();

    // Identity verification: the code the OTP simulator received.
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.getByLabel('6-digit code').waitFor();
    const code = await waitFor('the one-time code delivered', async () => sg.otp.latestCode(phone));
    await page.getByLabel('6-digit code').fill(code);
    await check('verify');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText('Identity verified').waitFor();

    // Search: a typo in each station, then trains on a date with availability per class.
    await go('#/');
    await pickStation('From', 'mumbai centrl', 'MMCT');
    await pickStation('To', 'new delhy', 'NDLS');
    const date = addDays(todayInIndia(), 3);
    await page.getByLabel('Journey date').fill(date);
    await page.getByRole('button', { name: 'Find trains' }).click();
    const rajdhani = page.locator('li.train').filter({ hasText: '12951' });
    await rajdhani.waitFor();
    await check('trains');
    await rajdhani.getByRole('link', { name: /^Book\s*3A/ }).click();

    // Two passengers, one named in Devanagari.
    await page.getByLabel('Full name').first().waitFor();
    await page.getByRole('button', { name: 'Add passenger' }).click();
    const names = ['आशा राव', 'Ravi Rao'];
    for (const [i, name] of names.entries()) {
      await page.locator(`#p${i}-name`).fill(name);
      await page.locator(`#p${i}-age`).fill(String(34 + i * 3));
      await page.locator(`#p${i}-gender`).selectOption(i === 0 ? 'FEMALE' : 'MALE');
    }
    await page.locator('#p0-berth').selectOption('LB');
    await check('passengers');
    await page.getByRole('button', { name: 'Reserve' }).click();

    // The outcome: berths held, coach and berth per passenger; pay within the hold.
    await see('.badge-held');
    const pnr = (await page.getByRole('heading', { level: 1 }).textContent())!.replace(/\D/g, '');
    expect(pnr).toMatch(/^\d{10}$/);
    await expect(page.locator('.passengers li .berth').allTextContents()).resolves.toEqual([
      expect.stringMatching(/^Coach \w+, berth \d+/),
      expect.stringMatching(/^Coach \w+, berth \d+/),
    ]);
    await check('held');
    await page.getByRole('button', { name: /^Pay / }).click();
    const checkout = page.getByRole('link', { name: 'Open the checkout page' });
    const checkoutUrl = (await checkout.getAttribute('href'))!;
    expect(checkoutUrl).toContain(`${sg.urls.provider}/checkout/`);

    // The provider's checkout page, in a second tab as a phone would open it.
    const tab = await page.context().newPage();
    await tab.goto(checkoutUrl);
    await tab.getByRole('button', { name: /^Pay ₹/ }).click();
    await tab.getByText('succeeded').waitFor();
    await tab.close();

    await see('.card > p > .badge-confirmed');
    await expect(page.locator('.passengers .badge-confirmed').count()).resolves.toBe(2);
    await check('confirmed');

    // Cancel the whole booking: CANCELLED, then the refund through the provider.
    await page.getByRole('button', { name: 'Cancel booking' }).click();
    await page.getByRole('alertdialog').waitFor();
    // The refund quote before deciding: what the rule table refunds now, and the charges.
    await expect(page.locator('.quote').textContent()).resolves.toMatch(/^Refund ₹[\d,.]+ \(charges ₹[\d,.]+\)$/);
    await page.getByRole('button', { name: 'Yes, cancel' }).click();
    await see('.card > p > .badge-cancelled');
    await see('.refunds li[data-status="SUCCEEDED"]');
    await expect(page.locator('.refunds li').textContent()).resolves.toMatch(/^₹[\d,.]+: refunded$/);
    await check('refunded');

    // My bookings lists it.
    await go('#/bookings');
    await page.getByRole('link', { name: `PNR ${pnr}` }).waitFor();
    await check('bookings');
  }, 300_000);

  it('in Hindi: Devanagari renders with the self-hosted font, and a Hindi station name finds the station', async () => {
    await go('#/');
    await page.getByRole('button', { name: /^हिन्दी/ }).click();
    await expect(page.locator('html').getAttribute('lang')).resolves.toBe('hi');
    await page.getByRole('heading', { name: 'ट्रेन खोजें' }).waitFor();
    await pickStation('कहाँ से', 'नई दिल्ली', 'NDLS');
    await pickStation('कहाँ तक', 'मुंबई सेंट्रल', 'MMCT');
    const fontReady = await page.evaluate(async () => {
      await document.fonts.ready;
      await document.fonts.load('16px "Noto Sans Devanagari"', 'नई दिल्ली');
      return document.fonts.check('16px "Noto Sans Devanagari"', 'नई दिल्ली');
    });
    expect(fontReady).toBe(true);
    await page.getByRole('button', { name: 'ट्रेन खोजें' }).click();
    await page.locator('li.train').first().waitFor();
    await check('trains-hindi');
    await page.getByRole('button', { name: /^English/ }).click();
    await expect(page.locator('html').getAttribute('lang')).resolves.toBe('en');
  }, 120_000);
});

describe('a Tatkal rush in the browser', () => {
  it('50 scripted travellers and the browser join one waiting room; the browser is decided', async () => {
    const run = await createTestRun(sg.db.prisma, {
      cls: 'THIRD_AC',
      coaches: 1,
      berthsPerCoach: 16,
      quotas: { TATKAL: 16 },
    });
    const opening = istInstant(addDays(run.date, -1), 10);
    // Fifty verified travellers, ten at a time.
    const scripted: TatkalClient[] = [];
    for (let batch = 0; batch < 5; batch++)
      scripted.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, async (_, i) => {
            const c = new TatkalClient({ url: sg.gatewayUrl });
            const serial = String(batch * 10 + i).padStart(2, '0');
            const tel = `+9196${serial}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
            await c.register({
              email: `rush-${randomUUID()}@example.com`,
              password: 'a long enough passphrase',
              name: 'Rush',
              phone: tel,
            });
            await c.requestIdentityCode();
            await c.verifyIdentity(await waitFor('a code', async () => sg.otp.latestCode(tel)));
            return c;
          }),
        )),
      );
    // Seconds before 10:00 IST on the eve of the journey: the waiting room is open.
    offsetMs = opening.getTime() - 30_000 - Date.now();
    const [from, , , to] = run.stations;
    // English whatever the page was left in.
    await page.evaluate(() => localStorage.setItem('tatkal.lang', 'en'));
    await go(
      `#/book?run=${run.runId}&train=${run.trainNumber}&name=Rush&date=${run.date}&from=${from}&to=${to}` +
        '&class=THIRD_AC&quota=TATKAL',
    );
    await page.reload();
    await page.locator('#p0-name').fill('सीता देवी');
    await page.locator('#p0-age').fill('41');
    await page.getByRole('button', { name: 'Reserve' }).click();
    await page.getByRole('heading', { name: 'Waiting room' }).waitFor();
    const countdown = page.getByText(/^Opens in /);
    await countdown.waitFor();
    await check('waiting-room');
    // The waiting room moves: its countdown (the server's time to the opening) ticks down.
    const first = await countdown.textContent();
    await page.waitForFunction(
      (before) => {
        const now = [...document.querySelectorAll('[role="timer"]')].map((e) => e.textContent).join();
        return now !== '' && now !== before;
      },
      first,
      { timeout: 10_000 },
    );
    // Every position the screen shows, recorded in the page as it changes.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        const text = document.querySelector('.position')?.textContent ?? document.querySelector('.badge')?.textContent;
        if (text && seen.at(-1) !== text) seen.push(text);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const joined = await Promise.all(
      scripted.map((c, i) =>
        c.reserve(
          {
            runId: run.runId,
            from,
            to,
            class: 'THIRD_AC',
            quota: 'TATKAL',
            passengers: [
              { name: `Yatri ${String.fromCharCode(65 + (i % 26), 65 + Math.floor(i / 26))}`, age: 30, gender: 'MALE' },
            ],
          },
          { wait: false },
        ),
      ),
    );
    expect(new Set(joined.map((r) => r.status))).toEqual(new Set(['QUEUED']));
    // The opening comes by the booking clock: 30 s ahead of now, minus the time spent so far.
    offsetMs = opening.getTime() - 2_000 - Date.now();
    await see('.card > p > .badge-held, .card > p > .badge-waitlisted, .card > p > .badge-refused', 60_000);
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    const positions = seen.filter((s) => s.startsWith('Position')).map((s) => Number(s.replace(/\D/g, '')));
    console.log(`browser saw: ${seen.join(' | ')}`);
    // Positions, when the browser polled between the admission and its turn (timing: often none
    // with 51 requests), only ever go down; the outcome is the last thing shown.
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
    await check('outcome');
    const outcomes = await Promise.all(scripted.map((c, i) => c.waitForOutcome(joined[i]!)));
    expect(outcomes.filter((r) => r.status === 'HELD').length).toBeGreaterThan(0);
    expect(outcomes.every((r) => r.status !== 'QUEUED')).toBe(true);
  }, 420_000);
});
