// Where the browser test finds Chromium, and what it says when there is none (CI must fail clearly).
import { describe, expect, it } from 'vitest';
import { findChromium } from './browser.ts';

describe('findChromium', () => {
  it('fails naming the fix when no Chromium is installed', () => {
    expect(() => findChromium(['/nonexistent/chromium'], {})).toThrow(
      /No Chromium found \(looked at \/nonexistent\/chromium\).*apt-get install -y chromium/,
    );
  });

  it('takes CHROMIUM_PATH when it exists, and refuses one that does not', () => {
    expect(findChromium([], { CHROMIUM_PATH: process.execPath })).toBe(process.execPath);
    expect(() => findChromium([], { CHROMIUM_PATH: '/nonexistent/chrome' })).toThrow(
      'CHROMIUM_PATH=/nonexistent/chrome does not exist',
    );
  });

  it('finds the first candidate that exists', () => {
    expect(findChromium(['/nonexistent/chromium', process.execPath], {})).toBe(process.execPath);
  });
});
